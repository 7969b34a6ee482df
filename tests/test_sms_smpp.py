"""SMPP answers read once (alertcast.sms.smpp): command_status values and delivery receipts."""

from __future__ import annotations

import pytest

from alertcast.sms.smpp import (
    ReceiptOutcome,
    is_receipt,
    masked,
    parse_receipt,
    status_of,
    status_text,
)

RECEIPT = (
    b"id:5A000001 sub:001 dlvrd:001 submit date:2612071030 done date:2612071031 "
    b"stat:DELIVRD err:000 text:Arr\xeat\xe9 pr\xe9fectoral"
)


def test_a_delivered_receipt() -> None:
    receipt = parse_receipt(RECEIPT, recipient="33612345678", account="prefecture")
    assert receipt is not None
    assert receipt.message_id == "5A000001" and receipt.stat == "DELIVRD"
    assert receipt.outcome is ReceiptOutcome.DELIVERED and receipt.error is None
    assert receipt.submit_date == "2612071030" and receipt.done_date == "2612071031"
    assert receipt.recipient == "+33•••••5678" and receipt.account == "prefecture"


@pytest.mark.parametrize(
    ("stat", "outcome"),
    [
        ("UNDELIV", ReceiptOutcome.FAILED),
        ("REJECTD", ReceiptOutcome.FAILED),
        ("EXPIRED", ReceiptOutcome.FAILED),
        ("DELETED", ReceiptOutcome.FAILED),
        ("ENROUTE", ReceiptOutcome.PENDING),
        ("ACCEPTD", ReceiptOutcome.PENDING),
        ("UNKNOWN", ReceiptOutcome.UNKNOWN),
        ("WHATEVR", ReceiptOutcome.UNKNOWN),
    ],
)
def test_receipt_states(stat: str, outcome: ReceiptOutcome) -> None:
    receipt = parse_receipt(f"id:1 sub:001 dlvrd:000 stat:{stat} err:0B1".encode())
    assert receipt is not None and receipt.outcome is outcome and receipt.error == "0B1"


def test_the_text_field_cannot_fake_a_state_and_tlvs_win() -> None:
    receipt = parse_receipt(b"id:AB12 stat:UNDELIV err:000 Text:stat:DELIVRD id:ZZ")
    assert receipt is not None and (receipt.message_id, receipt.stat) == ("AB12", "UNDELIV")
    with_tlvs = parse_receipt(b"id:ab12 stat:DELIVRD", {0x001E: b"AB12\x00", 0x0427: bytes([8])})
    assert with_tlvs is not None
    assert (with_tlvs.message_id, with_tlvs.stat, with_tlvs.outcome) == (
        "AB12",
        "REJECTD",
        ReceiptOutcome.FAILED,
    )


def test_not_a_receipt() -> None:
    assert parse_receipt(b"STOP") is None
    assert parse_receipt(b"id:12 sub:001") is None  # no state
    assert is_receipt(0x04) and is_receipt(0x20) and is_receipt(0x44)
    assert not is_receipt(0x00) and not is_receipt(0x40)


def test_statuses() -> None:
    assert status_of("ESME_RSYSERR (0x00000008)") == 0x08
    assert status_of("ESME_RTHROTTLED") == 0x58
    assert status_of("bind timed out") is None
    assert status_text(0x0E) == "ESME_RINVPASWD (0x0000000E): invalid password"
    assert status_text(0x401) == "(0x00000401): vendor-specific"


def test_numbers_are_masked() -> None:
    assert masked("33612345678") == "+33•••••5678"
    assert masked("+447911123456") == "+44••••••3456"
    assert masked("36665") == "36665"  # a short code is no one's number

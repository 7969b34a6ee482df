"""The sms channel against a real SMPP 3.4 gateway (smpp34's server behind a bind gate).

What the gateway received is read back: each submit_sm's data_coding, esm_class, UDH and
destination, and the text the segments make once joined as a handset joins them. Delivery
receipts are sent by the gateway as deliver_sm and read from the channel's `receipts()`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import pytest
from channel_requests import delivery_request

from alertcast.channels.base import LookupUnsupported
from alertcast.channels.sms import SmsAccount, SmsChannel, reference_for
from alertcast.delivery.retry import OutcomeUnknown, PermanentError, TransientError
from alertcast.models.incident import MsgType, Status
from alertcast.sms.encoding import ESC, encode_gsm7, reassemble
from alertcast.sms.smpp import DeliveryReceipt, ReceiptOutcome

if TYPE_CHECKING:
    from servers.smpp import SmppGateway

pytestmark = pytest.mark.servers

NUMBERS = ["06 12 34 56 78", "+33 6 98 76 54 32"]
FIRST, SECOND = "33612345678", "33698765432"  # as SMPP addresses them: E.164 digits, TON 1 NPI 1
#: French with ê, ’ and ç: UCS-2, 170 UTF-16 units, three segments (67 + 67 + 36).
FRENCH_ALERT = (
    "Arrêté préfectoral : vents violents jusqu’à 130 km/h sur le littoral du Pas-de-Calais. "
    "Restez chez vous, ne vous approchez pas des côtes. Reçu de la préfecture, 20 h 30."
)
#: French with é è à only: GSM-7, one segment.
GSM7_ALERT = "Vents violents à Arras : évitez les déplacements, fermez volets et portes près de l'église."

request = partial(delivery_request, "sms")


@pytest.fixture(scope="session")
def gateway() -> Iterator[SmppGateway]:
    from servers.smpp import SmppGateway

    server = SmppGateway()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smsc(gateway: SmppGateway) -> SmppGateway:
    gateway.reset()
    return gateway


@pytest.fixture
def password_env(monkeypatch: pytest.MonkeyPatch, gateway: SmppGateway) -> str:
    name = f"ALERTCAST_TEST_SMPP_PASSWORD_{uuid.uuid4().hex[:6].upper()}"
    monkeypatch.setenv(name, gateway.password)
    return name


def account(gateway: SmppGateway, secret_env: str, **extra: Any) -> SmsAccount:
    settings: dict[str, Any] = {
        "name": "prefecture",
        "host": "127.0.0.1",
        "port": gateway.port,
        "system_id": gateway.system_id,
        "password_env": secret_env,
        "source": "PREF62",
        "to": NUMBERS,
        "throughput_per_s": 200,
        "bind_timeout_s": 2,
        **extra,
    }
    return SmsAccount.model_validate(settings)


@pytest.fixture
async def channel(smsc: SmppGateway, password_env: str) -> AsyncIterator[SmsChannel]:
    sms = SmsChannel([account(smsc, password_env)])
    yield sms
    await sms.aclose()


async def test_a_three_segment_french_alert_arrives_as_three_concatenated_parts(
    channel: SmsChannel, smsc: SmppGateway
) -> None:
    sent = request(FRENCH_ALERT)
    result = await channel.publish(sent)
    for number in (FIRST, SECOND):
        parts = smsc.to(number)
        assert len(parts) == 3
        assert {(p.data_coding, p.esm_class) for p in parts} == {(0x08, 0x40)}  # UCS-2, UDH present
        reference = reference_for(sent.delivery_key)
        assert [p.short_message[:6] for p in parts] == [
            bytes([5, 0, 3, reference, 3, seq]) for seq in (1, 2, 3)
        ]
        assert reassemble(parts) == FRENCH_ALERT
        assert {(p.dest_addr_ton, p.dest_addr_npi, p.registered_delivery) for p in parts} == {(1, 1, 1)}
        assert {(p.source_addr, p.source_addr_ton, p.source_addr_npi) for p in parts} == {("PREF62", 5, 0)}
    assert result.details["message_ids"] == [s.message_id for s in smsc.submitted]
    assert result.post_id == smsc.submitted[0].message_id
    assert (result.details["encoding"], result.details["segments"], result.details["recipients"]) == (
        "ucs2",
        3,
        2,
    )
    shown = json.dumps(result.details, ensure_ascii=False)
    assert FIRST not in shown and "+33•••••5678" in shown  # numbers are masked in what is kept


async def test_french_without_circumflex_goes_as_gsm7(channel: SmsChannel, smsc: SmppGateway) -> None:
    await channel.publish(request(GSM7_ALERT))
    [part] = smsc.to(FIRST)
    assert (part.data_coding, part.esm_class) == (0x00, 0x00)
    assert part.short_message == encode_gsm7(GSM7_ALERT)
    assert part.text == GSM7_ALERT


async def test_an_escaped_character_is_never_cut_between_parts(
    channel: SmsChannel, smsc: SmppGateway
) -> None:
    text = "Alerte " + "x" * 145 + "€ 1 000 d'amende, voir le site."  # € on septets 153-154
    await channel.publish(request(text))
    first, second = smsc.to(FIRST)
    assert (first.data_coding, first.concatenation and first.concatenation.total) == (0x00, 2)
    assert first.short_message[-1] != ESC and second.text.startswith("€")
    assert first.text + second.text == text


async def test_update_and_end_are_new_messages(channel: SmsChannel, smsc: SmppGateway) -> None:
    first = await channel.publish(request(GSM7_ALERT))
    await channel.update(request("Mise à jour : vents jusqu'à 90 km/h.", version=2), first)
    await channel.end(request("Vents retombés.", version=3, msg_type=MsgType.CANCEL), first)
    texts = [part.text for part in smsc.to(FIRST)]
    assert texts == [GSM7_ALERT, "Mise à jour : vents jusqu'à 90 km/h.", "FIN D'ALERTE – Vents retombés."]


async def test_delivery_receipts_become_delivered_and_failed(channel: SmsChannel, smsc: SmppGateway) -> None:
    result = await channel.publish(request(GSM7_ALERT))
    to_first, to_second = result.details["message_ids"]
    smsc.send_receipt(to_first, "DELIVRD")
    smsc.send_receipt(to_second, "UNDELIV", err="001", tlvs=False)  # the receipt text alone
    receipts = channel.receipts()
    got: list[DeliveryReceipt] = [await asyncio.wait_for(anext(receipts), 10) for _ in range(2)]
    by_id = {receipt.message_id: receipt for receipt in got}
    assert by_id[to_first].outcome is ReceiptOutcome.DELIVERED and by_id[to_first].stat == "DELIVRD"
    assert by_id[to_second].outcome is ReceiptOutcome.FAILED and by_id[to_second].error == "001"
    assert by_id[to_first].recipient == "+33•••••5678" and by_id[to_second].recipient == "+33•••••5432"
    assert {receipt.account for receipt in got} == {"prefecture"}


async def test_a_wrong_password_is_a_clear_permanent_error(
    smsc: SmppGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "Wr0ngPw!"
    monkeypatch.setenv("ALERTCAST_TEST_SMPP_WRONG", wrong)
    sms = SmsChannel([account(smsc, "ALERTCAST_TEST_SMPP_WRONG", bind_timeout_s=1)])
    try:
        with pytest.raises(PermanentError) as refused:
            await sms.publish(request(GSM7_ALERT))
        health = await sms.check("prefecture")
    finally:
        await sms.aclose()
    message = str(refused.value)
    assert "refused the bind" in message and "ESME_RINVPASWD" in message
    assert "environment variable ALERTCAST_TEST_SMPP_WRONG" in message
    assert wrong not in message and smsc.password not in message
    assert not health.ok and health.problem is not None and "ESME_RINVPASWD" in health.problem
    assert wrong not in health.problem
    assert smsc.binds and not any(attempt.accepted for attempt in smsc.binds)
    assert smsc.submitted == []


@pytest.mark.parametrize(
    ("status", "name", "error"),
    [(0x0D, "ESME_RBINDFAIL", PermanentError), (0x05, "ESME_RALYBND", TransientError)],
)
async def test_a_refused_bind_says_why(
    smsc: SmppGateway, password_env: str, status: int, name: str, error: type[Exception]
) -> None:
    smsc.refuse_binds = status
    sms = SmsChannel([account(smsc, password_env, bind_timeout_s=1)])
    try:
        with pytest.raises(error, match=name) as refused:
            await sms.publish(request(GSM7_ALERT))
    finally:
        await sms.aclose()
    assert type(refused.value) is error


async def test_no_answer_to_submit_sm_is_outcome_unknown(smsc: SmppGateway, password_env: str) -> None:
    smsc.hold_submits = True
    sms = SmsChannel([account(smsc, password_env, submit_timeout_s=0.5, to=NUMBERS[:1])])
    try:
        sent = request(GSM7_ALERT)
        with pytest.raises(OutcomeUnknown, match=r"no answer to submit_sm within 0\.5 s") as unknown:
            await sms.publish(sent)
        assert "+33•••••5678" in str(unknown.value) and FIRST not in str(unknown.value)
        [held] = smsc.to(FIRST)
        assert held.message_id is None  # the gateway took it and never answered
        with pytest.raises(LookupUnsupported):
            await sms.find_existing(sent)
        # The uncertain session is dropped: the next message binds again and goes.
        smsc.hold_submits = False
        await sms.publish(request("Vents violents : suite.", version=2))
        assert [part.text for part in smsc.to(FIRST)][-1] == "Vents violents : suite."
        assert [attempt.accepted for attempt in smsc.binds] == [True, True]
    finally:
        await sms.aclose()


async def test_a_throttled_gateway_is_transient_and_the_retry_resumes(
    smsc: SmppGateway, password_env: str
) -> None:
    smsc.answers.extend([0, 0x58])  # the first segment goes, the second is throttled
    sms = SmsChannel([account(smsc, password_env, to=NUMBERS[:1])])
    try:
        sent = request(FRENCH_ALERT)
        with pytest.raises(TransientError, match="ESME_RTHROTTLED") as throttled:
            await sms.publish(sent)
        assert isinstance(throttled.value, TransientError) and throttled.value.retry_after == 1.0
        result = await sms.publish(sent)  # what the retry policy does
    finally:
        await sms.aclose()
    parts = smsc.to(FIRST)
    assert len(parts) == 4  # segment 2 twice (refused, then taken); segment 1 not again
    accepted = [part for part in parts if part.message_id is not None]
    assert reassemble(accepted) == FRENCH_ALERT
    assert result.details["message_ids"] == [part.message_id for part in accepted]


async def test_a_refused_number_does_not_keep_the_alert_from_the_others(
    smsc: SmppGateway, password_env: str
) -> None:
    smsc.answers.append(0x0B)  # ESME_RINVDSTADR for the first number
    sms = SmsChannel([account(smsc, password_env)])
    try:
        result = await sms.publish(request(GSM7_ALERT))
        smsc.answers.extend([0x0B, 0x0B])
        with pytest.raises(PermanentError, match="refused every number"):
            await sms.publish(request(GSM7_ALERT, version=2))
    finally:
        await sms.aclose()
    assert result.details["recipients"] == 1
    assert result.details["refused"] == [
        {"to": "+33•••••5678", "reason": "ESME_RINVDSTADR (0x0000000B): invalid destination address"}
    ]
    assert smsc.to(SECOND)[0].text == GSM7_ALERT


async def test_check_binds_and_unbinds_without_sending(channel: SmsChannel, smsc: SmppGateway) -> None:
    health = await channel.check("prefecture")
    assert (health.ok, health.can_post, health.limit, health.problem) == (True, True, 3, None)
    assert [(a.bind, a.accepted) for a in smsc.binds] == [("transceiver", True)]
    assert smsc.submitted == []
    missing = await channel.check("nobody")
    assert not missing.ok and "no sms account named 'nobody'" in (missing.problem or "")


async def test_the_throughput_window_is_respected(smsc: SmppGateway, password_env: str) -> None:
    sms = SmsChannel([account(smsc, password_env, throughput_per_s=10)])
    try:
        await sms.publish(request(FRENCH_ALERT))  # 2 numbers x 3 segments
    finally:
        await sms.aclose()
    arrivals = [part.at for part in smsc.submitted]
    assert len(arrivals) == 6
    # Six submits at 10/s are spread over 0.5 s; the gateway's clock, some scheduling slack.
    assert arrivals[-1] - arrivals[0] >= 0.4
    assert all(
        later - earlier >= 0.1 for earlier, later in zip(arrivals, arrivals[2:], strict=False)
    )  # 0.2 due


async def test_pacing_is_the_token_bucket_on_the_clock_given(smsc: SmppGateway, password_env: str) -> None:
    now = [1000.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    config = account(smsc, password_env, throughput_per_s=4)
    sms = SmsChannel([config], clock=lambda: now[0], sleep=sleep)
    times = []
    for _ in range(5):
        await sms.pace(config)
        times.append(now[0])
    assert times == pytest.approx([1000.0, 1000.25, 1000.5, 1000.75, 1001.0])
    now[0] += 10  # a quiet spell earns no burst: capacity 1
    await sms.pace(config)
    await sms.pace(config)
    assert now[0] == pytest.approx(1011.25)


async def test_an_exercise_never_reaches_a_public_account(channel: SmsChannel, smsc: SmppGateway) -> None:
    with pytest.raises(PermanentError, match="is a public account"):
        await channel.publish(request(GSM7_ALERT, status=Status.EXERCISE))
    assert smsc.binds == [] and smsc.submitted == []


async def test_a_text_over_the_account_segments_is_refused(smsc: SmppGateway, password_env: str) -> None:
    sms = SmsChannel([account(smsc, password_env, max_segments=2)])
    with pytest.raises(PermanentError, match="needs 3 SMS segments \\(UCS2\\); this account allows 2"):
        await sms.publish(request(FRENCH_ALERT))
    assert smsc.submitted == []


def test_account_numbers_and_sender(password_env: str) -> None:
    base = {"name": "p", "host": "gw.example", "system_id": "alertcast", "password_env": password_env}
    config = SmsAccount.model_validate({**base, "source": "PREF62", "to": [*NUMBERS, "+33612345678"]})
    assert config.to == ["+33612345678", "+33698765432"]  # E.164, duplicates dropped
    assert config.source_address() == ("PREF62", 5, 0)
    number = SmsAccount.model_validate({**base, "source": "+33 6 12 34 56 78", "to": NUMBERS})
    assert number.source_address() == ("33612345678", 1, 1)
    assert SmsAccount.model_validate({**base, "source": "36665", "to": NUMBERS}).source_address() == (
        "36665",
        3,
        0,
    )
    overridden = SmsAccount.model_validate(
        {**base, "source": "36665", "source_ton": 0, "source_npi": 1, "to": NUMBERS}
    )
    assert overridden.source_address() == ("36665", 0, 1)
    with pytest.raises(ValueError, match=r"to\.?\s*.*to\[1\]: '01 02' is not a valid phone number"):
        SmsAccount.model_validate({**base, "source": "PREF62", "to": ["0612345678", "01 02"]})
    with pytest.raises(ValueError, match="at most 11 GSM-7 characters"):
        SmsAccount.model_validate({**base, "source": "PREFECTURE62", "to": NUMBERS})
    with pytest.raises(ValueError, match="exactly one of password_env and password_file"):
        SmsAccount.model_validate(
            {**{k: v for k, v in base.items() if k != "password_env"}, "source": "P", "to": NUMBERS}
        )


async def test_the_gateway_s_receipts_become_the_delivery_s_receipt_with_its_numbers_counted(
    channel: SmsChannel, smsc: SmppGateway
) -> None:
    """Three UCS-2 segments to two numbers: a number has the alert once its three segments are
    DELIVRD; one UNDELIV segment means it never will; a receipt is written each time a number's
    state changes, not for every segment's."""
    alert = request(FRENCH_ALERT)
    sent = await channel.publish(alert)
    assert len(smsc.to(FIRST)) == len(smsc.to(SECOND)) == 3
    by_number: dict[str, list[str]] = {FIRST: [], SECOND: []}
    for part in sent.details["parts"]:
        by_number[FIRST if part["to"].endswith("5678") else SECOND].append(part["message_id"])
    updates = channel.delivery_receipts(lambda: datetime.now(UTC))
    for message_id in by_number[FIRST][:2]:
        smsc.send_receipt(message_id, "DELIVRD")  # two of three segments: still pending
    smsc.send_receipt(by_number[FIRST][2], "DELIVRD")
    first = await asyncio.wait_for(anext(updates), 10)
    assert first.status.value == "sent" and first.delivery_key == alert.delivery_key
    assert first.details["handsets"] == {"delivered": 1, "failed": 0, "pending": 1}
    assert first.details["message_ids"] == sent.details["message_ids"] and first.error is None
    smsc.send_receipt(by_number[SECOND][1], "UNDELIV", err="001")
    second = await asyncio.wait_for(anext(updates), 10)
    assert second.details["handsets"] == {"delivered": 1, "failed": 1, "pending": 0}
    assert second.error == "1 of 2 numbers will not receive it: +33•••••5432 (UNDELIV)"

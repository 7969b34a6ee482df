"""What SMPP 3.4 says back, read once: command_status values and delivery receipts; and the
phone numbers it carries (E.164, masked when shown).

Why a module of its own: the channel decides from these whether a refusal is worth a retry
(a throttled gateway), needs a person (a refused bind: wrong password), or is final (an invalid
number); and the delivery receipts an operator sends later (`deliver_sm`) must become our own
receipts without anyone reading SMSC text formats twice. Pure: no network, no smpp34.

Delivery receipts (SMPP 3.4 appendix B, the de facto format every gateway follows):
`id:<message id> sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DELIVRD
err:000 text:...`, in a deliver_sm whose esm_class says "SMSC delivery receipt" (bits 2-5 =
0001) or "intermediate notification" (1000). Where the gateway also sends the TLVs
`receipted_message_id` (0x001E) and `message_state` (0x0427), they win over the text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum

import phonenumbers
from pydantic import BaseModel, ConfigDict

#: SMPP 3.4 §5.1.3 command_status: name and meaning, for messages a person can act on.
STATUSES: dict[int, tuple[str, str]] = {
    0x00: ("ESME_ROK", "no error"),
    0x01: ("ESME_RINVMSGLEN", "message length is invalid"),
    0x02: ("ESME_RINVCMDLEN", "command length is invalid"),
    0x03: ("ESME_RINVCMDID", "invalid command id"),
    0x04: ("ESME_RINVBNDSTS", "incorrect bind status for this command"),
    0x05: ("ESME_RALYBND", "already bound"),
    0x06: ("ESME_RINVPRTFLG", "invalid priority flag"),
    0x07: ("ESME_RINVREGDLVFLG", "invalid registered delivery flag"),
    0x08: ("ESME_RSYSERR", "system error"),
    0x0A: ("ESME_RINVSRCADR", "invalid source address"),
    0x0B: ("ESME_RINVDSTADR", "invalid destination address"),
    0x0C: ("ESME_RINVMSGID", "message id is invalid"),
    0x0D: ("ESME_RBINDFAIL", "bind failed"),
    0x0E: ("ESME_RINVPASWD", "invalid password"),
    0x0F: ("ESME_RINVSYSID", "invalid system_id"),
    0x11: ("ESME_RCANCELFAIL", "cancel_sm failed"),
    0x13: ("ESME_RREPLACEFAIL", "replace_sm failed"),
    0x14: ("ESME_RMSGQFUL", "message queue full"),
    0x15: ("ESME_RINVSERTYP", "invalid service type"),
    0x33: ("ESME_RINVNUMDESTS", "invalid number of destinations"),
    0x34: ("ESME_RINVDLNAME", "invalid distribution list name"),
    0x40: ("ESME_RINVDESTFLAG", "invalid destination flag"),
    0x42: ("ESME_RINVSUBREP", "invalid submit with replace"),
    0x43: ("ESME_RINVESMCLASS", "invalid esm_class"),
    0x44: ("ESME_RCNTSUBDL", "cannot submit to a distribution list"),
    0x45: ("ESME_RSUBMITFAIL", "submit failed"),
    0x48: ("ESME_RINVSRCTON", "invalid source address TON"),
    0x49: ("ESME_RINVSRCNPI", "invalid source address NPI"),
    0x50: ("ESME_RINVDSTTON", "invalid destination address TON"),
    0x51: ("ESME_RINVDSTNPI", "invalid destination address NPI"),
    0x53: ("ESME_RINVSYSTYP", "invalid system_type"),
    0x54: ("ESME_RINVREPFLAG", "invalid replace_if_present flag"),
    0x55: ("ESME_RINVNUMMSGS", "invalid number of messages"),
    0x58: ("ESME_RTHROTTLED", "throttled: the account's message rate is exceeded"),
    0x61: ("ESME_RINVSCHED", "invalid scheduled delivery time"),
    0x62: ("ESME_RINVEXPIRY", "invalid validity period"),
    0x63: ("ESME_RINVDFTMSGID", "predefined message not found"),
    0x64: ("ESME_RX_T_APPN", "temporary application error"),
    0x65: ("ESME_RX_P_APPN", "permanent application error"),
    0x66: ("ESME_RX_R_APPN", "message rejected"),
    0x67: ("ESME_RQUERYFAIL", "query_sm failed"),
    0xC0: ("ESME_RINVOPTPARSTREAM", "error in the optional parameters"),
    0xC1: ("ESME_ROPTPARNOTALLWD", "optional parameter not allowed"),
    0xC2: ("ESME_RINVPARLEN", "invalid parameter length"),
    0xC3: ("ESME_RMISSINGOPTPARAM", "expected optional parameter missing"),
    0xC4: ("ESME_RINVOPTPARAMVAL", "invalid optional parameter value"),
    0xFE: ("ESME_RDELIVERYFAILURE", "delivery failure"),
    0xFF: ("ESME_RUNKNOWNERR", "unknown error"),
}
_BY_NAME = {name: code for code, (name, _) in STATUSES.items()}
ESME_RSYSERR = 0x08
ESME_RINVBNDSTS = 0x04
ESME_RALYBND = 0x05

#: A refused bind a retry cannot fix: the credentials or the account are wrong.
BIND_REFUSALS = frozenset({0x0D, 0x0E, 0x0F, 0x53})
#: submit_sm answers worth a retry: the gateway is busy or briefly failing.
SUBMIT_TRANSIENT = frozenset({0x08, 0x14, 0x45, 0x58, 0x64, 0xFF})
#: submit_sm answers that say the session, not the message, is wrong: bind again, then retry.
SESSION_STATUSES = frozenset({ESME_RINVBNDSTS, ESME_RALYBND})
#: A gateway asking us to slow down: wait about this long before the retry.
BUSY_STATUSES = frozenset({0x14, 0x58})


def status_text(status: int) -> str:
    """`ESME_RTHROTTLED (0x00000058): throttled: ...`; vendor codes (0x400-0x4FF) by number."""
    name, meaning = STATUSES.get(status, ("", "vendor-specific" if 0x400 <= status <= 0x4FF else "unknown"))
    return f"{name + ' ' if name else ''}(0x{status:08X}): {meaning}"


def status_of(error_message: str) -> int | None:
    """The command_status an smpp34 `SmppError` carries ("ESME_RSYSERR (0x00000008)"), if any."""
    found = re.search(r"\(0x([0-9A-Fa-f]{1,8})\)", error_message)
    if found:
        return int(found.group(1), 16)
    named = re.search(r"\bESME_[A-Z_]+\b", error_message)
    return _BY_NAME.get(named.group(0)) if named else None


# --- delivery receipts --------------------------------------------------------------------------

#: esm_class bits 2-5: the message type of a deliver_sm.
ESM_CLASS_TYPE_MASK = 0x3C
ESM_CLASS_RECEIPT = 0x04  #: SMSC delivery receipt
ESM_CLASS_INTERMEDIATE = 0x20  #: intermediate delivery notification
TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_MESSAGE_STATE = 0x0427


class ReceiptOutcome(StrEnum):
    DELIVERED = "delivered"  #: the handset has it
    FAILED = "failed"  #: it will never arrive (undeliverable, rejected, expired, deleted)
    PENDING = "pending"  #: still on its way (en route, accepted)
    UNKNOWN = "unknown"  #: the gateway does not know, or said something we do not


#: The receipt's `stat:` and what it means for us.
STATES: dict[str, ReceiptOutcome] = {
    "DELIVRD": ReceiptOutcome.DELIVERED,
    "UNDELIV": ReceiptOutcome.FAILED,
    "REJECTD": ReceiptOutcome.FAILED,
    "EXPIRED": ReceiptOutcome.FAILED,
    "DELETED": ReceiptOutcome.FAILED,
    "ENROUTE": ReceiptOutcome.PENDING,
    "ACCEPTD": ReceiptOutcome.PENDING,
    "UNKNOWN": ReceiptOutcome.UNKNOWN,
}
#: The message_state TLV's values (SMPP 3.4 §5.2.28) as `stat:` words.
MESSAGE_STATES: dict[int, str] = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}

_FIELD = re.compile(r"(?i)(?<!\w)(id|sub|dlvrd|submit date|done date|stat|err):(\S*)")
_TEXT = re.compile(r"(?is)\btext:(.*)$")


class DeliveryReceipt(BaseModel):
    """What the operator's gateway says became of one submitted segment."""

    model_config = ConfigDict(frozen=True)

    message_id: str  #: as the gateway answered submit_sm (the receipt's `id:` or TLV)
    stat: str  #: the gateway's word: DELIVRD, UNDELIV, REJECTD, EXPIRED, ...
    outcome: ReceiptOutcome
    error: str | None = None  #: the gateway's `err:` code, when it is not all zeros
    submit_date: str | None = None  #: YYMMDDhhmm[ss], the gateway's clock and time zone
    done_date: str | None = None
    recipient: str = ""  #: the handset, masked (`masked`), for a person reading receipts
    account: str = ""  #: the sms account whose bind received it


def is_receipt(esm_class: int) -> bool:
    """Whether a deliver_sm is a delivery receipt (final or intermediate), not a citizen's SMS."""
    return esm_class & ESM_CLASS_TYPE_MASK in (ESM_CLASS_RECEIPT, ESM_CLASS_INTERMEDIATE)


def parse_receipt(
    short_message: bytes,
    tlvs: Mapping[int, bytes] | None = None,
    *,
    recipient: str = "",
    account: str = "",
) -> DeliveryReceipt | None:
    """The receipt a deliver_sm carries; None when it names no message or no state."""
    tlvs = tlvs or {}
    body = short_message.decode("latin-1")
    text_at = _TEXT.search(body)
    fields = {
        key.lower(): value for key, value in _FIELD.findall(body[: text_at.start()] if text_at else body)
    }
    message_id = _c_string(tlvs.get(TLV_RECEIPTED_MESSAGE_ID)) or fields.get("id", "")
    state = tlvs.get(TLV_MESSAGE_STATE)
    stat = (MESSAGE_STATES.get(state[0], "") if state else "") or fields.get("stat", "").upper()
    if not message_id or not stat:
        return None
    error = fields.get("err")
    return DeliveryReceipt(
        message_id=message_id,
        stat=stat,
        outcome=STATES.get(stat, ReceiptOutcome.UNKNOWN),
        error=error if error and error.strip("0") else None,
        submit_date=fields.get("submit date") or None,
        done_date=fields.get("done date") or None,
        recipient=masked(recipient) if recipient else "",
        account=account,
    )


def _c_string(value: bytes | None) -> str:
    return value.split(b"\0", 1)[0].decode("latin-1").strip() if value else ""


def e164(number: str, region: str) -> str:
    """`number` in E.164 (`+33612345678`); a national number is read in `region`."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException as error:
        raise ValueError(f"{number!r} is not a phone number ({error})") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{number!r} is not a valid phone number (read in region {region})")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def masked(number: str) -> str:
    """A phone number as messages, logs and receipts show it: country code and last 4 digits
    (`+33•••••5678`), enough for a person to tell configured numbers apart, not to dial one."""
    digits = number.lstrip("+")
    if not digits.isdigit() or len(digits) <= 6:
        return number
    try:
        country = str(phonenumbers.parse(f"+{digits}", None).country_code)
    except phonenumbers.NumberParseException:
        country = digits[:1]
    return f"+{country}{'•' * (len(digits) - len(country) - 4)}{digits[-4:]}"

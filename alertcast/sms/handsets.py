"""What became of one SMS delivery on the handsets, from the gateway's delivery receipts.

A delivery of the sms channel is every segment to every number of the account; the gateway
answers each `submit_sm` with a message id, and later sends one delivery receipt per message id
(`deliver_sm`). A number has the alert when every one of its segments is DELIVRD; it will never
have it once one segment failed (UNDELIV, REJECTD, EXPIRED, DELETED); otherwise it is pending.

`Sent` is what the channel remembers of a delivery it submitted (keys, number and message id of
each segment); `Sent.record` applies one receipt and says whether a number's state changed, and
`Sent.receipt` is the delivery's receipt as people read it: still `sent` (the ledger's word: the
gateway took it, nothing is sent again), with the handsets counted in `details["handsets"]`, the
numbers that will not get it (masked) in `error`, and `latency_ms` from approval to this receipt.
Pure: the stream shell (alertcast.stream.sms_receipts) feeds it the receipts and writes what it
returns.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alertcast.models.alert import DeliveryRequest, DeliveryStatus, Receipt
from alertcast.models.post import PostResult
from alertcast.sms.smpp import DeliveryReceipt, ReceiptOutcome

FINAL = (ReceiptOutcome.DELIVERED, ReceiptOutcome.FAILED)


@dataclass
class Sent:
    """One sms delivery as the gateway took it (the channel's PostResult: each of its `parts` is
    a masked number, a segment and that segment's message id)."""

    request: DeliveryRequest
    post: PostResult
    outcomes: dict[str, ReceiptOutcome] = field(default_factory=dict)  #: by message id
    stats: dict[str, str] = field(default_factory=dict)  #: the gateway's word, by message id

    @property
    def parts(self) -> list[dict[str, Any]]:
        return list(self.post.details.get("parts", []))

    @property
    def message_ids(self) -> list[str]:
        return [str(part["message_id"]) for part in self.parts]

    def record(self, receipt: DeliveryReceipt) -> bool:
        """Apply a receipt; True when a number's state changed (a new receipt is worth writing).
        A final state is kept: a late intermediate receipt does not undo it."""
        before = self.numbers()
        if self.outcomes.get(receipt.message_id) not in FINAL:
            self.outcomes[receipt.message_id] = receipt.outcome
            self.stats[receipt.message_id] = receipt.stat
        return self.numbers() != before

    def numbers(self) -> dict[str, ReceiptOutcome]:
        """Each number's state: failed if a segment failed, delivered if all were, else pending."""
        by_number: dict[str, list[ReceiptOutcome]] = {}
        for part in self.parts:
            outcome = self.outcomes.get(str(part["message_id"]), ReceiptOutcome.PENDING)
            by_number.setdefault(str(part["to"]), []).append(outcome)
        states = {}
        for number, outcomes in by_number.items():
            if ReceiptOutcome.FAILED in outcomes:
                states[number] = ReceiptOutcome.FAILED
            elif all(outcome is ReceiptOutcome.DELIVERED for outcome in outcomes):
                states[number] = ReceiptOutcome.DELIVERED
            else:
                states[number] = ReceiptOutcome.PENDING
        return states

    def complete(self) -> bool:
        """Every number has a final state: no receipt to wait for any more."""
        return all(state in FINAL for state in self.numbers().values())

    def _failures(self, number: str) -> set[str]:
        """The gateway's words for the segments of `number` that will not arrive."""
        ids = [str(part["message_id"]) for part in self.parts if part["to"] == number]
        return {self.stats[i] for i in ids if self.outcomes.get(i) is ReceiptOutcome.FAILED}

    def receipt(self, now: datetime) -> Receipt:
        states = self.numbers()
        counted = Counter(state.value for state in states.values())
        failed = [number for number, state in states.items() if state is ReceiptOutcome.FAILED]
        why = {number: sorted(self._failures(number)) for number in failed}
        error = (
            f"{len(failed)} of {len(states)} numbers will not receive it: "
            + ", ".join(f"{number} ({'/'.join(why[number])})" for number in failed)
            if failed
            else None
        )
        request = self.request
        return Receipt(
            delivery_key=request.delivery_key,
            alert_id=request.alert_id,
            version=request.version,
            channel=request.channel,
            account=request.account,
            status=DeliveryStatus.SENT,
            post_id=self.post.post_id,
            latency_ms=max((now - request.approved_at).total_seconds() * 1000, 0.0),  # approval to now
            error=error,
            at=now,
            details={
                **self.post.details,
                "handsets": {
                    outcome.value: counted.get(outcome.value, 0)
                    for outcome in (ReceiptOutcome.DELIVERED, ReceiptOutcome.FAILED, ReceiptOutcome.PENDING)
                },
            },
        )

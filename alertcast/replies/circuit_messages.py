"""What a circuit notice says, in the language the person chose, as a duty call.

A notice travels like a duty call (`alertcast.channels.duty.DutyCaller`: Matrix, e-mail, SMS,
webhook, on the rota's `send_with` accounts), so it is made a `Call`: its "alert" is the
conversation (`circuit-<ref>`), its version the round plus one, its stage the primary's for the
warning and the supervisor's after the deadline. The delivery key is therefore per
conversation, round, stage and person: a notice sent again after a crash carries the same Matrix
transaction id, Message-ID and Idempotency-Key. The text links to the conversation in the
console; it does not quote the citizen (a reply may hold the personal data the charter hides).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from alertcast.duty.escalation import Intent, Stage
from alertcast.duty.messages import Call
from alertcast.duty.rota import DEFAULT_SERVICE, Person
from alertcast.replies.circuit import CircuitStage, Notice

WORDS = {
    "fr": {
        CircuitStage.WARNING: "Un citoyen attend une réponse ({service}) : délai le {deadline}",
        CircuitStage.DEADLINE: "Délai dépassé : un citoyen attend une réponse ({service})",
        "waiting": "Message sur {network}, en attente depuis le {since}.",
        "warning_you": "Vous êtes de permanence ({service}) : le délai de 72 heures expire le {deadline}.",
        "deadline_you": "Vous supervisez la permanence ({service}) : le délai a expiré le {deadline} "
        "sans réponse.",
        "open": "Ouvrir la conversation : {url}",
        "short": "alertcast : un citoyen attend une réponse ({service}), délai le {deadline}. {url}",
        "all": "tous services",
    },
    "en": {
        CircuitStage.WARNING: "A citizen waits for an answer ({service}): due {deadline}",
        CircuitStage.DEADLINE: "Deadline missed: a citizen waits for an answer ({service})",
        "waiting": "Message on {network}, waiting since {since}.",
        "warning_you": "You are on duty ({service}): the 72-hour deadline is {deadline}.",
        "deadline_you": "You supervise the duty ({service}): the deadline passed on {deadline} "
        "with no answer.",
        "open": "Open the conversation: {url}",
        "short": "alertcast: a citizen waits for an answer ({service}), due {deadline}. {url}",
        "all": "all services",
    },
}
STAGES = {CircuitStage.WARNING: Stage.PRIMARY, CircuitStage.DEADLINE: Stage.SUPERVISOR}


def circuit_call(notice: Notice, person: Person, base_url: str, now: datetime, zone: ZoneInfo) -> Call:
    """The notice to `notice.person`, ready for every duty channel."""
    assert notice.person is not None
    words = WORDS[person.language]
    url = f"{base_url.rstrip('/')}/console/inbox/{notice.ref}"
    service = words["all"] if notice.service == DEFAULT_SERVICE else notice.service
    deadline = notice.deadline.astimezone(zone).strftime("%d/%m %H:%M")
    since = notice.waiting_since.astimezone(zone).strftime("%d/%m %H:%M")
    subject = words[notice.stage].format(service=service, deadline=deadline)
    you = "warning_you" if notice.stage is CircuitStage.WARNING else "deadline_you"
    lines = [
        subject,
        words["waiting"].format(network=notice.network, since=since),
        words[you].format(service=service, deadline=deadline),
        words["open"].format(url=url),
    ]
    intent = Intent(
        alert_id=f"circuit-{notice.ref}",
        incident_key=notice.alert_id or "",
        version=notice.round + 1,
        stage=STAGES[notice.stage],
        person=notice.person,
        service=notice.duty_service,
        due_at=notice.at,
        waiting_since=notice.waiting_since,
        headline=subject,
        severity=None,
        incident_status="Actual",
        called_before=(),
    )
    return Call(
        intent=intent,
        person=notice.person,
        language=person.language,
        subject=subject,
        text="\n".join(lines),
        short=words["short"].format(service=service, deadline=deadline, url=url),
        ack_url=None,
        draft_url=url,
        at=now,
    )

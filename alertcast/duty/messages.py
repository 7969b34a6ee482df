"""What a duty call says, on each channel, in the language the person chose.

A call is not an alert, but it travels through the alert channels' adapters (Matrix, e-mail,
SMS), which take a `DeliveryRequest`: `Call.request` makes one whose text is the call and whose
incident is a private one standing for the call (its headline becomes the e-mail's subject; an
exercise draft's call is labelled EXERCICE like any exercise). Its delivery key names the alert
version, the stage and the person, so a call sent again after a crash carries the same Matrix
transaction id and Message-ID, and the same webhook Idempotency-Key: the networks that dedupe
by them show it once. Webhooks (on-call tools) get `Call.webhook_body`, a JSON event of its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from alertcast.duty import tokens
from alertcast.duty.escalation import Intent, Stage
from alertcast.duty.rota import DEFAULT_SERVICE, Person
from alertcast.models.alert import ChannelText, DeliveryRequest
from alertcast.models.incident import Category, Incident, Info, Scope, Severity, Status

SEVERITIES = {
    "fr": {"Extreme": "extrême", "Severe": "grave", "Moderate": "modérée", "Minor": "mineure"},
    "en": {"Extreme": "extreme", "Severe": "severe", "Moderate": "moderate", "Minor": "minor"},
}
WORDS = {
    "fr": {
        "subject": "À approuver : {headline}",
        "waiting": "Gravité {severity} · en attente depuis le {since}",
        Stage.PRIMARY: "Vous êtes de permanence ({service}).",
        Stage.BACKUP: "Vous êtes en renfort ({service}) : {before} n'a pas pris en charge.",
        Stage.SUPERVISOR: "Vous supervisez la permanence ({service}) : "
        "personne n'a pris en charge ({before}).",
        "ack": "Prendre en charge : {url}",
        "draft": "Ouvrir le brouillon : {url}",
        "short": "alertcast : brouillon à approuver, « {headline} ». {url}",
        "all": "tous services",
        "nobody": "personne d'autre",
        "event": "Appel de permanence",
    },
    "en": {
        "subject": "To approve: {headline}",
        "waiting": "Severity {severity} · waiting since {since}",
        Stage.PRIMARY: "You are on duty ({service}).",
        Stage.BACKUP: "You are the backup ({service}): {before} has not taken it.",
        Stage.SUPERVISOR: "You supervise the duty ({service}): nobody has taken it ({before}).",
        "ack": "Take it: {url}",
        "draft": "Open the draft: {url}",
        "short": "alertcast: a draft to approve, “{headline}”. {url}",
        "all": "all services",
        "nobody": "nobody else",
        "event": "Duty call",
    },
}
SHORT_HEADLINE = 70
_SEVERITIES = {severity.value for severity in Severity}


@dataclass(frozen=True)
class Call:
    """One person's call about one draft, ready for every channel."""

    intent: Intent
    person: str
    language: str
    subject: str
    text: str
    short: str
    ack_url: str | None
    draft_url: str
    at: datetime

    @property
    def account(self) -> str:
        """The account name the call is sent as: distinct per stage and person, so per call."""
        return f"duty-{self.intent.stage.value}-{self.person}"

    def delivery_key(self, channel: str) -> str:
        return f"{self.intent.alert_id}:{self.intent.version}:{channel}:{self.account}"

    def request(self, channel: str) -> DeliveryRequest:
        text = self.short if channel == "sms" else self.text
        return DeliveryRequest(
            alert_id=self.intent.alert_id,
            version=self.intent.version,
            channel=channel,
            account=self.account,
            incident=self._incident(),
            text=ChannelText(channel=channel, language=self.language, text=text, length=len(text)),
            approved_at=self.at,
        )

    def _incident(self) -> Incident:
        status = self.intent.incident_status
        severity = self.intent.severity or ""
        return Incident(
            identifier=f"duty-{self.intent.alert_id}-{self.intent.version}-{self.intent.stage.value}",
            sender="alertcast.duty",
            sent=self.at,
            status=Status(status) if status in Status.__members__.values() else Status.ACTUAL,
            scope=Scope.PRIVATE,
            source="duty",
            info=[
                Info(
                    language=self.language,
                    category=Category.OTHER,
                    event=WORDS[self.language]["event"],
                    headline=self.subject[:500],
                    severity=Severity(severity)
                    if severity in Severity.__members__.values()
                    else Severity.UNKNOWN,
                )
            ],
        )

    def webhook_body(self) -> bytes:
        """For an on-call tool: what to page about, and the links to answer."""
        intent = self.intent
        body = {
            "event": "alertcast.duty_call",
            "stage": intent.stage.value,
            "person": self.person,
            "service": intent.service,
            "alert_id": intent.alert_id,
            "incident_key": intent.incident_key,
            "version": intent.version,
            "headline": intent.headline,
            "severity": intent.severity,
            "exercise": intent.incident_status in (Status.EXERCISE.value, Status.TEST.value),
            "waiting_since": intent.waiting_since.isoformat(),
            "called_before": list(intent.called_before),
            "ack_url": self.ack_url,
            "draft_url": self.draft_url,
            "text": self.text,
        }
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def build_call(
    intent: Intent, person: Person, base_url: str, key: bytes | None, now: datetime, zone: ZoneInfo
) -> Call:
    """The call to `intent.person`: the acknowledgement link only when a duty key is set."""
    assert intent.person is not None
    words = WORDS[person.language]
    base = base_url.rstrip("/")
    draft_url = f"{base}/console/drafts/{intent.alert_id}"
    ack_url = None
    if key is not None:
        token = tokens.sign(intent.alert_id, intent.version, intent.person, intent.stage.value, key, now)
        ack_url = f"{base}/console/duty/ack?token={token}"
    service = words["all"] if intent.service == DEFAULT_SERVICE else intent.service
    before = ", ".join(intent.called_before) or words["nobody"]
    severity = SEVERITIES[person.language].get(intent.severity or "", "?")
    since = intent.waiting_since.astimezone(zone).strftime("%d/%m %H:%M")
    lines = [
        words["subject"].format(headline=intent.headline),
        words["waiting"].format(severity=severity, since=since),
        words[intent.stage].format(service=service, before=before),
    ]
    if ack_url:
        lines.append(words["ack"].format(url=ack_url))
    lines.append(words["draft"].format(url=draft_url))
    headline = intent.headline
    if len(headline) > SHORT_HEADLINE:
        headline = headline[: SHORT_HEADLINE - 1].rstrip() + "…"
    return Call(
        intent=intent,
        person=intent.person,
        language=person.language,
        subject=words["subject"].format(headline=intent.headline),
        text="\n".join(lines),
        short=words["short"].format(headline=headline, url=ack_url or draft_url),
        ack_url=ack_url,
        draft_url=draft_url,
        at=now,
    )

"""The gettext catalogs: every message of the sources translated in every language, the committed
template up to date with the sources, every console page drawn in French and in English without
a message the catalog lacks (nor an English sentence in a French page), and times named after
the configured zone."""

from __future__ import annotations

import html
import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.support import Translations
from test_console_security import USERS, MemoryProducer, Setup, drafted_event, login, make_draft

from alertcast import i18n
from alertcast.approval.policy import Requirement
from alertcast.approval.workflow import decide, receive_draft, tick
from alertcast.charter import check_incident
from alertcast.duty import tokens
from alertcast.duty.escalation import Intent, Stage, notified_event
from alertcast.kpis import charts
from alertcast.models.alert import Approval, DeliveryRequest, DeliveryStatus, Draft, Receipt, alert_id_for
from alertcast.models.decision import (
    ApprovalMode,
    AuditAction,
    AuditEvent,
    Decision,
    DecisionAction,
    DraftStatus,
    Role,
)
from alertcast.pausing import new_switch, switch_records
from alertcast.render.compose import check_edit
from alertcast.replies.actions import ReplyAction
from alertcast.replies.conversations import thread_ref
from alertcast.replies.model import Reply
from alertcast.settings import ROOT
from alertcast.site.dates import zone_place
from alertcast.web.app import WebConfig, create_app
from alertcast.web.console import ConsoleConfig
from alertcast.web.console.guard import LANGUAGE_COOKIE
from alertcast.web.console.pages import ACTION_LABELS, STATUS_LABELS, Pages, event_said

Key = tuple[str | None, str]  # (context, msgid)
POT = i18n.LOCALE_DIR / "alertcast.pot"
PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w+\}")


def extracted() -> set[Key]:
    """What `pybabel extract -F babel.cfg` finds in the sources now."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found: set[Key] = set()
    for _file, _line, message, _comments, context in extract_from_dir(ROOT, method_map, options_map):
        found.add((context, message[0] if isinstance(message, tuple) else message))
    return found


def catalog_keys(path: Path) -> set[Key]:
    with path.open("rb") as file:
        return {(m.context, m.id) for m in read_po(file) if m.id}


def test_the_committed_template_has_exactly_the_messages_of_the_sources() -> None:
    sources, template = extracted(), catalog_keys(POT)
    assert len(sources) > 250  # the extraction did read the console, the site and the Python
    assert sources - template == set(), "new messages: run `make catalogs-update` and translate them"
    assert template - sources == set(), "messages gone from the sources: run `make catalogs-update`"


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_message_of_the_sources_is_translated(language: str) -> None:
    path = i18n.LOCALE_DIR / language / "LC_MESSAGES" / "alertcast.po"
    with path.open("rb") as file:
        catalog = read_po(file, locale=language)
    lacking = []
    for context, msgid in sorted(extracted(), key=lambda key: key[1]):
        message = catalog.get(msgid, context)
        if message is None or not message.string or message.fuzzy:
            lacking.append(msgid)
        elif sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(str(message.string))):
            lacking.append(f"{msgid} (its values differ: {message.string})")
    assert lacking == [], f"{path} lacks a translation of: {lacking}"


def test_the_compiled_catalogs_say_what_the_po_files_say() -> None:
    """conftest compiled them (as `make catalogs` would): a French word comes back French."""
    assert i18n.translations("fr").gettext("Draft queue") == "File des brouillons"
    assert i18n.translations("en").gettext("Draft queue") == "Draft queue"
    assert i18n.translations("fr").pgettext("button", "Log in") == "Se connecter"


def test_a_catalog_is_compiled_when_missing_or_older_than_its_po(tmp_path: Path) -> None:
    source = i18n.LOCALE_DIR / "fr" / "LC_MESSAGES" / "alertcast.po"
    po = tmp_path / "fr" / "LC_MESSAGES" / "alertcast.po"
    po.parent.mkdir(parents=True)
    po.write_text(source.read_text(encoding="utf-8").replace("File des brouillons", "File d'attente"))
    assert i18n.compile_catalogs(tmp_path) == [po.with_suffix(".mo")]
    assert i18n.compile_catalogs(tmp_path) == []  # up to date: left alone
    with po.with_suffix(".mo").open("rb") as file:
        assert Translations(file, domain=i18n.DOMAIN).gettext("Draft queue") == "File d'attente"
    os.utime(po, (po.stat().st_atime, po.with_suffix(".mo").stat().st_mtime + 10))
    assert i18n.compile_catalogs(tmp_path) == [po.with_suffix(".mo")]


def test_every_status_and_audit_action_has_its_words() -> None:
    """A new status or action is labelled, so the console never shows its code to people."""
    assert {s.value for s in (*DraftStatus, *DeliveryStatus)} | {"waiting"} <= set(STATUS_LABELS)
    assert {a.value for a in AuditAction} <= set(ACTION_LABELS)


def test_what_the_console_wrote_in_an_audit_event_is_shown_in_the_reader_s_language() -> None:
    at = datetime(2026, 12, 7, 5, 30, tzinfo=UTC)
    failed = AuditEvent(
        at=at, actor="?", action=AuditAction.LOGIN_FAILED, accepted=False, message="stored words"
    )
    retry = AuditEvent(
        at=at,
        actor="alice",
        action=AuditAction.RETRY,
        channel="webhook",
        message="nouvel essai sur webhook/default",
        details={"delivery_key": "k", "account": "default"},
    )
    older = retry.model_copy(update={"details": {"delivery_key": "k"}})  # before the account was kept
    reason = AuditEvent(at=at, actor="bruno", action=AuditAction.PAUSE, message="jeton compromis")
    french, english = (Pages().catalogs[language] for language in ("fr", "en"))
    assert event_said(failed, french) == "identifiant ou mot de passe incorrect"
    assert event_said(failed, english) == "wrong user name or password"
    assert event_said(retry, english) == "retry on webhook/default"
    assert event_said(retry, french) == "nouvel essai sur webhook/default"
    assert event_said(older, english) == "nouvel essai sur webhook/default"
    assert event_said(reason, english) == "jeton compromis"  # a person's words stay theirs


@pytest.mark.parametrize(
    ("seconds", "french", "english"),
    [
        (0.42, "0,4 s", "0.4 s"),
        (9.96, "10,0 s", "10.0 s"),
        (200, "3 min 20 s", "3 min 20 s"),
        (97200, "1 j 3 h", "1 d 3 h"),
    ],
)
def test_the_kpi_charts_write_delays_in_the_reader_s_language(
    seconds: float, french: str, english: str
) -> None:
    """The SVG's own words (delays, axis, description) come from the catalog it is given."""
    assert charts.duration(seconds) == charts.duration(seconds, i18n.translations("fr").gettext) == french
    assert charts.duration(seconds, i18n.translations("en").gettext) == english
    drawn = str(charts.strip("s", "t", [seconds, 2 * 86400], seconds, None, i18n.translations("en").gettext))
    assert f"median {english}" in drawn and "1 measure(s)" not in drawn and "2 measure(s); median" in drawn
    assert "2 d" in drawn and "médiane" not in drawn


@pytest.mark.parametrize(
    ("header", "chosen", "language"),
    [
        (None, None, "fr"),
        ("en-GB,en;q=0.9", None, "en"),
        ("de-DE, en;q=0.5, fr;q=0.8", None, "fr"),
        ("de, en;q=0.4", None, "en"),
        ("en", "fr", "fr"),
        ("fr", "en", "en"),
        ("en;q=abc, ,;;", "xx", "fr"),
    ],
)
def test_the_language_is_the_chosen_one_else_the_browser_s_else_french(
    header: str | None, chosen: str | None, language: str
) -> None:
    assert i18n.negotiate(header, chosen) == language


class Recording(Translations):  # type: ignore[misc]
    """A compiled catalog that notes every message looked up that it has no translation for."""

    def __init__(self, language: str, missing: set[str]) -> None:
        with i18n.mo_path(language).open("rb") as file:
            super().__init__(file, domain=i18n.DOMAIN)
        self.missing = missing

    def gettext(self, message: str) -> str:
        if message not in self._catalog:
            self.missing.add(message)
        return str(super().gettext(message))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        if (singular, 0) not in self._catalog:
            self.missing.add(singular)
        return str(super().ngettext(singular, plural, n))

    def pgettext(self, context: str, message: str) -> str:
        if f"{context}\x04{message}" not in self._catalog:
            self.missing.add(f"{context}|{message}")
        return str(super().pgettext(context, message))

    # Jinja2 asks for the u- names first, which Babel still defines: they must record too.
    ugettext, ungettext, upgettext = gettext, ngettext, pgettext


KEY = b"k" * 32
ROTA = """
supervisor: bruno
people:
  alice: {email: alice@example.fr}
  bruno: {email: bruno@example.fr}
services:
  "*":
    shifts: [{from: "00:00", to: "00:00", primary: alice, backup: bruno}]
"""
POLICY = """
rules:
  - name: grave
    severities: [Extreme, Severe]
    approval: two
    escalate_after: PT15M
default:
  name: default
  approval: one
"""


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[tuple[Setup, set[str]]]:
    """A console with something on every page, drawing with recording catalogs."""
    (tmp_path / "rota.yaml").write_text(ROTA)
    (tmp_path / "policy.yaml").write_text(POLICY)
    config = ConsoleConfig.for_tests(
        USERS,
        decision_wait_s=0,
        rota_file=tmp_path / "rota.yaml",
        policy_file=tmp_path / "policy.yaml",
        duty_key=KEY,
        channels=["webhook", "website"],
    )
    producer = MemoryProducer()
    app = create_app(
        WebConfig(topic_prefix="t."), producer=producer, follow_topics=False, console_config=config
    )
    setup = Setup(producer, app.state.console, httpx.ASGITransport(app=app))
    missing: set[str] = set()
    guard = setup.console.guard
    guard.pages = Pages(config.timezone, {lang: Recording(lang, missing) for lang in i18n.LANGUAGES})
    yield setup, missing


def distinct_draft(road: int) -> Draft:
    """A draft of its own alert (make_draft's are all the same alert)."""
    draft = make_draft(headline=f"Route D {road} fermée entre Arras et Cambrai")
    incident = draft.incident.model_copy(update={"identifier": f"{draft.incident.identifier}-{road}"})
    return draft.model_copy(
        update={"incident": incident, "incident_key": incident.key, "alert_id": alert_id_for(incident.key)}
    )


#: Texts breaking the charter in every way a rule family can (style, neutrality, personal data,
#: spelling), in French and in English: each page shows every explanation in its own language.
BROKEN_TEXTS = {
    "fr": "ROUTE FERMÉE !!! Grâce à notre maire, c'est scandaleux. Appelez Jean Dupont au "
    "06 12 34 56 78 ou jean.dupont@gmail.com, voiture AB-123-CD. Chausée glissante 🚧🚧⚠️🚨🌊",
    "en": "ROAD CLOSED!!! Thanks to our mayor, this is outrageous. Call 07700 900123 or "
    "john.smith@gmail.com. Slipery road 🚧🚧⚠️🚨🌊",
}


def findings_draft(road: int) -> Draft:
    """A draft whose incident lacks advice and has expired, and whose texts break the charter."""
    draft = distinct_draft(road)
    now = datetime.now(UTC)
    info = draft.incident.info[0].model_copy(
        update={"instruction": "", "onset": now - timedelta(hours=3), "expires": now - timedelta(hours=1)}
    )
    incident = draft.incident.model_copy(update={"info": [info]})
    texts = [check_edit("webhook", text, language, incident) for language, text in BROKEN_TEXTS.items()]
    assert all(text.blocked for text in texts)
    findings = check_incident(incident)
    assert {f.rule for f in findings} >= {"facts.advice", "times.expired", "times.onset_past"}
    families = {f.family for text in texts for f in text.findings}
    assert families >= {"style", "neutrality", "personal_data", "spelling"}, families
    return draft.model_copy(
        update={"incident": incident, "texts": texts, "findings": findings, "blocked": True}
    )


def fill(setup: Setup) -> dict[str, str]:
    """A pending draft, a scheduled one, a published one with a dead delivery, a pause, a draft
    the charter finds much to say about."""
    now = datetime.now(UTC)
    pending, scheduled, published = (distinct_draft(n) for n in (934, 935, 936))
    broken = findings_draft(937)
    setup.feed("drafted", broken)
    setup.feed("audit", drafted_event(broken, mode="one"))
    for draft in (pending, scheduled, published):
        setup.feed("drafted", draft)
        setup.feed("audit", drafted_event(draft, mode="two"))
    setup.feed(
        "audit",
        AuditEvent(
            at=now,
            actor="alice",
            action=AuditAction.APPROVE,
            incident_key=scheduled.incident_key,
            alert_id=scheduled.alert_id,
            version=1,
            status=DraftStatus.SCHEDULED,
            details={"publish_at": (now + timedelta(hours=5)).isoformat(), "scheduled_by": "alice"},
        ),
    )
    approval = Approval(draft=published, approved_by=["alice", "bruno"], approved_at=now, policy="grave")
    setup.feed("approved", approval)
    request = DeliveryRequest(
        alert_id=published.alert_id,
        version=1,
        channel="webhook",
        incident=published.incident,
        text=published.texts[0],
        approved_at=now,
    )
    setup.feed("requests", request)
    setup.feed(
        "dead",
        Receipt(
            delivery_key=request.delivery_key,
            alert_id=published.alert_id,
            version=1,
            channel="webhook",
            account="default",
            status=DeliveryStatus.DEAD,
            latency_ms=1.0,
            error="HTTP 500",
            at=now,
        ),
    )
    for topic, key, value in switch_records(
        setup.console.guard.topic, new_switch(True, "website", None, "bruno", "test")
    ):
        setup.console.on_message(topic, key, value)
    token = tokens.sign(pending.alert_id, 1, "alice", "primary", KEY, now)
    conversation = fill_inbox(setup, published.alert_id, now)
    return fill_workflow(setup, now) | {
        "conversation": f"/console/inbox/{conversation}",
        "pending": f"/console/drafts/{pending.alert_id}",
        "scheduled": f"/console/drafts/{scheduled.alert_id}",
        "timeline": f"/console/incidents/{published.alert_id}",
        "duty": f"/console/duty/ack?token={token}",
        "findings": f"/console/drafts/{broken.alert_id}",
    }


def fill_workflow(setup: Setup, now: datetime) -> dict[str, str]:
    """Drafts taken through the approval workflow itself, their audit events as the worker wrote
    them (through JSON): one published at once (auto), one scheduled then moved, one escalated
    (then its person on duty called). Returns their draft pages and their histories."""
    later = {"onset": now + timedelta(hours=6), "expires": now + timedelta(days=1)}
    auto, moved, escalated = (distinct_draft(n) for n in (940, 941, 942))
    auto, moved, escalated = (
        draft.model_copy(
            update={
                "incident": draft.incident.model_copy(
                    update={"info": [draft.incident.info[0].model_copy(update=later)]}
                )
            }
        )
        for draft in (auto, moved, escalated)
    )

    def decision(draft: Draft, action: DecisionAction, **fields: object) -> Decision:
        return Decision.model_validate(
            {
                "incident_key": draft.incident_key,
                "alert_id": draft.alert_id,
                "version": 1,
                "action": action,
                "actor": "alice",
                "roles": [Role.COMMUNICATOR],
                "at": now,
                **fields,
            }
        )

    events = receive_draft(None, auto, Requirement(rule="trusted", mode=ApprovalMode.AUTO), now).audit
    arrived = receive_draft(None, moved, Requirement(rule="default", mode=ApprovalMode.ONE), now)
    approved = decide(
        arrived.state,
        decision(moved, DecisionAction.APPROVE, publish_at=now + timedelta(hours=2)),
        now,
        check_edit,
    )
    rescheduled = decide(
        approved.state,
        decision(moved, DecisionAction.RESCHEDULE, publish_at=now + timedelta(hours=3)),
        now,
        check_edit,
    )
    events += arrived.audit + approved.audit + rescheduled.audit
    grave = Requirement(rule="grave", mode=ApprovalMode.TWO, escalate_after=timedelta(minutes=15))
    waiting = receive_draft(None, escalated, grave, now - timedelta(minutes=20))
    assert waiting.state is not None
    called = tick(waiting.state, now)
    assert called.escalate and waiting.audit and called.audit
    intent = Intent(
        alert_id=escalated.alert_id,
        incident_key=escalated.incident_key,
        version=1,
        stage=Stage.PRIMARY,
        person="alice",
        service="routes",
        due_at=now,
        waiting_since=now - timedelta(minutes=20),
        headline="",
        severity="Severe",
        incident_status="Actual",
        called_before=(),
    )
    call = notified_event(intent, now, ["email"], {"sms": "PermanentError: refused"})
    events += waiting.audit + called.audit + [call]
    assert all(event.message_id for event in events), [e.message for e in events if not e.message_id]
    for draft in (auto, moved, escalated):
        setup.feed("drafted", draft)
    for event in events:
        setup.feed("audit", AuditEvent.model_validate_json(event.model_dump_json()))
    return {
        name: f"/console/{page}/{draft.alert_id}"
        for draft, name in ((auto, "auto"), (moved, "moved"), (escalated, "escalated"))
        for page, name in (("drafts", name), ("incidents", f"{name}-history"))
    }


def fill_inbox(setup: Setup, alert_id: str, now: datetime) -> str:
    """Citizens' replies: a conversation under the published alert (an insult the charter hides,
    a hiding asked, an assignment, a mark "answered", a new message after it) and a mention
    under no alert. Returns the conversation's ref."""
    ref = thread_ref("bluesky", "root-1")

    def said(native: str, text: str, at: datetime, alert: str | None, network: str = "bluesky") -> Reply:
        return Reply.model_validate(
            {
                "id": f"{network}:{native}",
                "network": network,
                "author": "@citoyen.example",
                "text": text,
                "url": f"https://bsky.app/{native}",
                "at": at,
                "alert_id": alert,
                "conversation": "root-1" if alert else "m-1",
            }
        )

    insult = said(
        "1", "Bande de connards, la route est toujours fermée chez moi", now - timedelta(hours=3), alert_id
    )
    setup.feed("replies", insult)
    setup.feed("replies", said("3", "Qui répond ici ?", now - timedelta(hours=1), None, "mastodon"))
    # a phone number (hidden: the charter's personal data, quoted by the reason) and campaigning
    setup.feed(
        "replies",
        said(
            "4",
            "Appelez-moi au 06 12 34 56 78. Votez pour la liste Ensemble pour Arras !",
            now - timedelta(hours=2),
            alert_id,
        ),
    )
    hide = ReplyAction(
        kind="hide",
        network="bluesky",
        target="1",
        reply_id=insult.id,
        conversation="root-1",
        ref=ref,
        alert_id=alert_id,
        by="bruno",
        at=now - timedelta(hours=2),
    )
    details = {"ref": ref, "network": "bluesky", "conversation": "root-1"}
    for action, at, more in (
        (AuditAction.REPLY_ACTION_REQUESTED, hide.at, {"request": hide.model_dump(mode="json")}),
        (AuditAction.REPLY_ASSIGNED, hide.at, {"service": "voirie"}),
        (AuditAction.REPLY_ANSWERED, hide.at + timedelta(minutes=5), {}),
    ):
        event = AuditEvent(
            at=at, actor="bruno", action=action, alert_id=alert_id, channel="bluesky", details=details | more
        )
        setup.feed("audit", event)
    setup.feed("replies", said("2", "Et demain ?", now - timedelta(minutes=30), alert_id))
    return ref


#: Explanations each page must show in each language (from msgids; the stored English or the
#: text's own language would not do).
SAID = {
    "findings": {
        "fr": [
            "« ROUTE FERMÉE » est écrit en capitales",  # a French text's finding
            "« ROAD CLOSED » est écrit en capitales",  # an English text's, in French too
            "ressemble à un numéro de téléphone mobile personnel",
            "l'alerte est déjà terminée (",
            "constats bloquants de la charte : ",
        ],
        "en": [
            '"ROUTE FERMÉE" is written in capitals',
            '"Grâce à notre maire" praises an elected official',
            "the alert gives no advice (instruction empty)",
            "blocking charter findings: ",
        ],
    },
    "new-refused": {
        "fr": ["La valeur doit être", "Le texte doit avoir au plus 500 caractère(s)", "la fin ("],
        "en": ["Input should be 'road_closure'", "String should have at most 500 character(s)", "expires ("],
    },
    "conversation": {
        "fr": [
            "« connards » est une insulte : la charte d'utilisation la masque",
            "Donnée personnelle, masquée par la charte d'utilisation : « 06 12 34 56 78 » ressemble",
        ],
        "en": [
            '"connards" is an insult: the usage charter hides it',
            "Personal data, hidden by the usage charter: ",
            "looks like a private mobile phone number",
        ],
    },
}

#: What the approval workflow, the deadlines and the duty desk wrote in the audit log, said on
#: the drafts' pages, their histories and the log in each language (the English stored is not).
WORKFLOW_SAID = {
    "fr": {
        "auto": ["approuvé par policy:auto après 0 s"],
        "auto-history": ["publié aussitôt (automatique)", "approuvé par policy:auto après 0 s"],
        "moved": ["déplacée du "],
        "moved-history": [
            "attend 1 approbation(s)",
            "publication prévue le ",
            "(fixée par alice)",
            "déplacée du ",
        ],
        "escalated": ["pas de décision en 15 min : superviseurs appelés"],
        "escalated-history": [
            "attend 2 approbation(s)",
            "pas de décision en 15 min : superviseurs appelés",
            "alice appelé(e) comme titulaire de permanence pour routes : envoyé par email ; échecs : sms: ",
        ],
    },
    "en": {
        "auto": ["approved by policy:auto after 0 s"],
        "auto-history": ["published at once (auto)", "approved by policy:auto after 0 s"],
        "moved": ["moved from "],
        "moved-history": ["waits for 1 approval(s)", "to be published at ", "(set by alice)", "moved from "],
        "escalated": ["no decision within 15 min: supervisors called"],
        "escalated-history": [
            "waits for 2 approval(s)",
            "no decision within 15 min: supervisors called",
            "alice called as primary on duty for routes: sent by email; failed: sms: ",
        ],
    },
}
for _language, _said in WORKFLOW_SAID.items():
    for _target, _words in _said.items():
        SAID.setdefault(_target, {})[_language] = _words
    SAID.setdefault("/console/audit?sessions=1", {})[_language] = [
        words for target in ("auto-history", "moved-history", "escalated-history") for words in _said[target]
    ]
#: A date-time as the audit log stores it: a page shows it in the console's zone, never so.
STORED_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")

PAGES = (
    ("bruno", "/console/queue"),
    ("bruno", "/console/queue.part"),
    ("bruno", "pending"),
    ("bruno", "scheduled"),
    ("bruno", "timeline"),
    ("bruno", "/console/deliveries"),
    ("bruno", "/console/deliveries?notice=resumed"),
    ("bruno", "/console/deliveries.part"),
    ("bruno", "/console/pauses.part"),
    ("bruno", "/console/new"),
    ("bruno", "findings"),
    ("bruno", "new-refused"),  # posted: the form again, with its problems
    ("bruno", "/console/mine?notice=submitted"),
    ("bruno", "/console/audit?sessions=1"),
    ("bruno", "/console/policy"),
    ("bruno", "duty"),
    ("bruno", "/console/inbox"),
    ("bruno", "/console/inbox?state=overdue&network=x"),  # nothing for these filters
    ("bruno", "conversation"),
    ("bruno", "/console/inbox/nothing-here"),
    ("bruno", "/console/kpi"),
    ("bruno", "/console/kpi?window=30d"),
    ("bruno", "/console/drafts/nothing-here"),
    ("bruno", "auto"),
    ("bruno", "auto-history"),
    ("bruno", "moved"),
    ("bruno", "moved-history"),
    ("bruno", "escalated"),
    ("bruno", "escalated-history"),
    ("adam", "/console/admin"),
    ("adam", "/console/queue"),  # 403
)


def foreign_runs() -> dict[str, set[str]]:
    """What must not show in a page of each language: the runs of words (three at least, so
    "Description" or "e-mail" do not count) of the other language's messages, where the two
    differ (English msgids in a French page, French translations in an English one)."""
    with (i18n.LOCALE_DIR / "fr" / "LC_MESSAGES" / "alertcast.po").open("rb") as file:
        catalog = read_po(file, locale="fr")
    runs: dict[str, set[str]] = {"fr": set(), "en": set()}
    for message in catalog:
        if not message.id or message.string == message.id:
            continue
        english, french = plain(str(message.id)), plain(str(message.string))
        runs["fr"] |= {
            run for run in PLACEHOLDER.split(english) if len(run.split()) >= 3 and run not in french
        }
        runs["en"] |= {
            run for run in PLACEHOLDER.split(french) if len(run.split()) >= 3 and run not in english
        }
    return {language: {" ".join(run.split()) for run in found} for language, found in runs.items()}


def plain(markup: str) -> str:
    """Text as a reader sees it: no tags, entities read, spaces folded; the titles shown over
    marked words are read too."""
    titles = " ".join(re.findall(r'\btitle="([^"]*)"', markup))
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", f"{markup} {titles}")).split())


#: A new alert refused by its form: a category, an event and a time no incident can have.
REFUSED_FORM = {
    "category": "Volcano",
    "event": "",
    "headline": "x" * 501,
    "onset": "2026-12-07T07:00",
    "expires": "2026-12-07T06:00",
    "area": "Arras",
}


async def refused_form(client: httpx.AsyncClient, csrf: str) -> httpx.Response:
    answer = await client.post("/console/new", data={"csrf": csrf, **REFUSED_FORM})
    assert answer.status_code == 422, answer.text[:300]
    return answer


async def test_every_console_page_in_every_language_has_all_its_words_in_the_catalog(
    console: tuple[Setup, set[str]],
) -> None:
    setup, missing = console
    paths = fill(setup)
    foreign = foreign_runs()
    for language in i18n.LANGUAGES:
        for user in ("bruno", "adam"):
            async with setup.client() as client:
                client.cookies.set(LANGUAGE_COOKIE, language)
                login_page = await client.get("/console/login")
                assert f'<html lang="{language}">' in login_page.text
                assert (
                    "Heures de Paris." if language == "fr" else "Times are Paris time."
                ) in login_page.text
                csrf = await login(client, user)
                for who, target in PAGES:
                    if who != user:
                        continue
                    if target == "new-refused":
                        answer = await refused_form(client, csrf)
                    else:
                        answer = await client.get(paths.get(target, target))
                    assert answer.status_code in (200, 403, 404, 422), (target, answer.status_code)
                    if target != "new-refused":  # the policy file above is read
                        assert "Input should be" not in answer.text
                    if target == "conversation":  # drawn in full: the act asked shows, in the language
                        state = "demandée" if language == "fr" else "requested"
                        assert answer.status_code == 200 and f"<strong>{state}</strong>" in answer.text
                    if target.startswith("/console/kpi"):  # the charts' own words are checked too
                        assert answer.status_code == 200 and answer.text.count('class="chart"') == 6
                    if target in SAID:  # and what the charter, the forms and the workflow say is said
                        for words in SAID[target][language]:
                            assert words in plain(answer.text), (target, language, words)
                    if target in WORKFLOW_SAID[language] or target.startswith("/console/audit"):
                        assert not STORED_TIME.findall(plain(answer.text)), (target, language)
                    text = plain(answer.text)
                    left = sorted(run for run in foreign[language] if run in text)
                    assert left == [], f"{target} in {language} shows the other language: {left}"
    assert missing == set(), f"looked up but not in the catalog: {sorted(missing)}"


async def test_the_language_switch_keeps_the_choice_and_goes_back(console: tuple[Setup, set[str]]) -> None:
    setup, _ = console
    async with setup.client() as client:
        french = await client.get("/console/login", headers={"Accept-Language": "de, en;q=0.5, fr;q=0.9"})
        assert "Mot de passe" in french.text and 'href="/console/language/en"' in french.text
        english = await client.get("/console/login", headers={"Accept-Language": "en-US"})
        assert "Password" in english.text and 'hreflang="fr"' in english.text
        switch = await client.get(
            "/console/language/en", headers={"Referer": "http://127.0.0.1/console/login?next=/console/queue"}
        )
        assert switch.status_code == 303 and switch.headers["location"] == "/console/login"
        assert client.cookies.get(LANGUAGE_COOKIE) == "en"
        chosen = await client.get("/console/login", headers={"Accept-Language": "fr"})
        assert "Password" in chosen.text and '<html lang="en">' in chosen.text
        away = await client.get("/console/language/fr", headers={"Referer": "https://elsewhere.example/x"})
        assert away.headers["location"] == "/console/"  # never back to another site
        unknown = await client.get("/console/language/xx")
        assert unknown.status_code == 303 and client.cookies.get(LANGUAGE_COOKIE) == "fr"


@pytest.mark.parametrize(
    ("zone", "french", "english"),
    [
        ("Europe/Paris", "Heures de Paris.", "Times are Paris time."),
        ("Indian/Reunion", "Heures de La Réunion.", "Times are Réunion time."),
        ("America/Martinique", "Heures de Martinique.", "Times are Martinique time."),
    ],
)
async def test_console_times_are_in_the_configured_zone_and_say_which(
    zone: str, french: str, english: str
) -> None:
    config = ConsoleConfig.for_tests(USERS, timezone=zone)
    app = create_app(WebConfig(), producer=MemoryProducer(), follow_topics=False, console_config=config)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
    ) as client:
        assert french in (await client.get("/console/login")).text
        assert english in (await client.get("/console/login", headers={"Accept-Language": "en"})).text
    at = datetime(2026, 12, 7, 5, 30, tzinfo=UTC)
    pages = Pages(zone)
    local = at.astimezone(ZoneInfo(zone))
    assert pages.local(at) == local.strftime("%d/%m/%Y %H:%M:%S")
    assert pages.local(at, language="en") == f"{local.day} Dec 2026, {local:%H:%M:%S}"
    assert zone_place(ZoneInfo(zone), "fr") in french

"""Problems, findings and moderation reasons: stored in English (or the text's language), said
again in the reader's language from their msgids, date-times in the body's zone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from alertcast.approval import schedule
from alertcast.approval.policy import Requirement
from alertcast.approval.schedule import planned_time
from alertcast.approval.state import ApprovalState, refusal_without_state
from alertcast.approval.workflow import tick
from alertcast.charter import check_incident, check_text
from alertcast.clock import clock
from alertcast.duty.escalation import acknowledged_event
from alertcast.examples import incidents
from alertcast.explanations import explain, line
from alertcast.i18n import N_
from alertcast.models.alert import Draft, alert_id_for
from alertcast.models.decision import (
    ApprovalMode,
    AuditAction,
    AuditEvent,
    Decision,
    DecisionAction,
    DraftStatus,
    Role,
)
from alertcast.models.finding import Finding
from alertcast.models.incident import Incident
from alertcast.models.problem import Problem, problems_from_validation
from alertcast.replies.model import Reply
from alertcast.replies.moderation import moderate
from alertcast.settings import get_settings
from alertcast.web.console.pages import Pages, event_said

AT = datetime(2026, 12, 7, 5, 30, tzinfo=UTC)
NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def expired() -> Problem:
    return Problem.said(
        "info.0.expires",
        "times.expired",
        N_("the alert has already expired (%(expires)s, now %(now)s)"),
        N_("correct the expiry, or do not publish an alert that is over"),
        expires=AT,
        now=NOW,
    )


def test_a_problem_is_stored_in_english_with_its_msgids_and_values() -> None:
    problem = expired()
    assert problem.message == "the alert has already expired (2026-12-07T05:30:00Z, now 2026-12-07T06:00:00Z)"
    assert problem.message_id == "the alert has already expired (%(expires)s, now %(now)s)"
    assert problem.params == {"expires": "2026-12-07T05:30:00Z", "now": "2026-12-07T06:00:00Z"}
    again = Problem.model_validate_json(problem.model_dump_json())
    assert again == problem  # the same through a topic


@pytest.mark.parametrize(
    ("zone", "expires", "now"),
    [("Europe/Paris", "06:30:00", "07:00:00"), ("Indian/Reunion", "09:30:00", "10:00:00")],
)
def test_a_problem_with_a_date_is_said_in_french_in_the_zone_s_local_time(
    zone: str, expires: str, now: str
) -> None:
    problem = Problem.model_validate_json(expired().model_dump_json())
    french = explain(problem, "message", "fr", zone=ZoneInfo(zone))
    assert french == f"l'alerte est déjà terminée (07/12/2026 {expires}, il est 07/12/2026 {now})"
    assert explain(problem, "hint", "fr") == "corrigez la fin, ou ne publiez pas une alerte terminée"
    english = explain(problem, "message", "en", zone=ZoneInfo(zone))
    assert english == f"the alert has already expired (7 Dec 2026, {expires}, now 7 Dec 2026, {now})"
    # The console's pages say it the same way, in their zone.
    assert Pages(zone).explain(problem, "message", "fr") == french


def test_the_zone_of_the_settings_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTCAST_TIMEZONE", "America/Martinique")
    get_settings.cache_clear()
    try:
        assert explain(expired(), "message", "fr") == (
            "l'alerte est déjà terminée (07/12/2026 01:30:00, il est 07/12/2026 02:00:00)"
        )
    finally:
        get_settings.cache_clear()


def test_a_problem_stored_before_the_msgids_still_parses_and_shows_its_english() -> None:
    old = json.dumps(
        {
            "path": "info.0.headline",
            "value": None,
            "rule": "missing",
            "message": "Field required",
            "hint": "x",
        }
    )
    problem = Problem.model_validate_json(old)
    assert (problem.message_id, problem.hint_id, problem.params) == ("", "", {})
    for language in ("fr", "en"):
        assert explain(problem, "message", language) == "Field required"
        assert explain(problem, "hint", language) == "x"
    assert problem.line() == "info.0.headline: Field required [missing] (value: None); hint: x"
    old_finding = json.dumps(
        {"rule": "style.capitals", "level": "warn", "start": 0, "end": 3, "excerpt": "FOO", "message": "m"}
    )
    assert explain(Finding.model_validate_json(old_finding), "message", "fr") == "m"


def test_a_cli_line_is_english_as_stored_or_in_the_language_asked() -> None:
    problem = expired()
    assert problem.line() == (
        "info.0.expires: the alert has already expired (2026-12-07T05:30:00Z, now 2026-12-07T06:00:00Z) "
        "[times.expired] (value: None); hint: correct the expiry, or do not publish an alert that is over"
    )
    french = line(problem, "fr")
    assert french.startswith("info.0.expires : l'alerte est déjà terminée (")
    assert french.endswith(
        "[times.expired] (valeur : None) ; conseil : corrigez la fin, ou ne publiez pas une alerte terminée"
    )


def test_a_parser_s_own_words_are_kept_untranslated() -> None:
    problem = Problem.said(
        "", "yaml_syntax", "%(error)s", N_("fix the YAML"), error="mapping values are not allowed"
    )
    assert explain(problem, "message", "fr") == "mapping values are not allowed"
    assert explain(problem, "hint", "fr") == "corrigez le YAML"


def test_pydantic_s_messages_are_said_in_the_reader_s_language() -> None:
    with pytest.raises(ValidationError) as error:
        Incident.model_validate({"identifier": "x" * 300, "msgType": "Nope"})
    problems = {problem.path: problem for problem in problems_from_validation(error.value)}
    assert problems["sender"].message == "Field required"  # stored as pydantic says it
    assert explain(problems["sender"], "message", "fr") == "Champ obligatoire"
    assert explain(problems["sender"], "hint", "fr") == "ajoutez ce champ"


def test_charter_findings_are_stored_in_the_text_s_language_and_said_in_the_reader_s() -> None:
    french_text = check_text("Grâce à notre maire, la route est rouverte !!!", "fr")
    english_text = check_text("Thanks to our mayor, the road is open again!!!", "en")
    for findings in (french_text, english_text):
        assert {f.rule for f in findings} >= {"neutrality.praise", "style.punctuation"}
        for finding in findings:
            assert finding.message_id, finding
            said_fr = explain(finding, "message", "fr")
            said_en = explain(finding, "message", "en")
            assert said_fr != said_en and finding.excerpt in said_fr and finding.excerpt in said_en
    praise = next(f for f in french_text if f.rule == "neutrality.praise")
    assert praise.message.startswith("« Grâce à notre maire »")  # stored: the lexicon's French
    assert explain(praise, "message", "en").startswith('"Grâce à notre maire" praises an elected official')


def test_incident_findings_name_their_times_in_the_zone() -> None:
    clock.set(lambda: datetime(2030, 1, 1, tzinfo=UTC))
    try:
        incident = incidents(datetime(2026, 12, 7, 5, 0, tzinfo=UTC))[0]
        found = [f for f in check_incident(incident) if f.rule == "times.expired"]
    finally:
        clock.set(None)
    assert found and found[0].message.startswith("the alert has already expired (")
    said = explain(found[0], "message", "fr", zone=ZoneInfo("Europe/Paris"))
    assert said.startswith("l'alerte est déjà terminée (") and "01/01/2030 01:00:00" in said


def test_a_body_s_own_words_for_a_rule_stay_as_it_wrote_them(tmp_path: Path) -> None:
    (tmp_path / "fr.yaml").write_text(
        "messages:\n"
        "  style.punctuation: {message: 'Pas de « {excerpt} » chez nous.', suggestion: 'Un point.'}\n",
        encoding="utf-8",
    )
    [finding] = check_text("Route fermée !!!", "fr", extra_dir=tmp_path)
    assert (finding.message, finding.message_id) == ("Pas de « !!! » chez nous.", "")
    assert explain(finding, "message", "en") == "Pas de « !!! » chez nous."


def test_a_moderation_reason_quoting_a_charter_finding_is_said_whole_in_the_reader_s_language() -> None:
    reply = Reply.model_validate(
        {
            "id": "bluesky:1",
            "network": "bluesky",
            "author": "@citoyen.example",
            "text": "Mon numéro : 06 12 34 56 78, rappelez-moi",
            "at": AT,
            "conversation": "c",
        }
    )
    [reason] = moderate(reply, "fr").reasons
    assert reason.message.startswith("Donnée personnelle, masquée par la charte d'utilisation : « 06 12")
    english = explain(reason, "message", "en")
    assert english == (
        "Personal data, hidden by the usage charter: "
        '"06 12 34 56 78" looks like a private mobile phone number.'
    )
    assert explain(reason, "message", "fr") == reason.message


def test_a_refusal_kept_in_an_audit_event_is_said_in_the_reader_s_language() -> None:
    decision = Decision(
        incident_key="k",
        alert_id="a",
        version=1,
        action=DecisionAction.APPROVE,
        actor="alice",
        at=NOW,
        publish_at=AT,
    )
    problem = planned_time(decision, incidents(NOW)[0], NOW)
    assert isinstance(problem, Problem) and problem.rule == "schedule.past"
    refused = AuditEvent(
        at=NOW,
        actor="alice",
        action=AuditAction.APPROVE,
        accepted=False,
        message=f"{problem.message}; {problem.hint}",
        details={"problem": problem.model_dump(mode="json")},
    )
    pages = Pages("Europe/Paris")
    french = event_said(refused, pages.catalogs["fr"], "fr", pages.zone)
    assert french == (
        "l'heure de publication 07/12/2026 06:30:00 est déjà passée (il est 07/12/2026 07:00:00) ; "
        "approuvez sans heure pour publier tout de suite, ou donnez une heure plus tardive"
    )
    assert event_said(refused, pages.catalogs["en"], "en", pages.zone).startswith(
        "the publication time 7 Dec 2026, 06:30:00 has already passed"
    )
    unknown = refusal_without_state(decision, NOW)
    assert unknown.message == "no draft is known for this incident"
    assert event_said(unknown, pages.catalogs["fr"], "fr") == "aucun brouillon n'est connu pour cet incident"


def test_a_workflow_event_keeps_its_english_and_is_said_in_the_reader_s_language_after_json() -> None:
    """A reschedule and a deadline, as the worker writes them to `audit.events` and the console
    reads them back: the English stored as before, the reader's words, times in the zone."""
    incident = incidents(NOW)[0]  # expires at 10:45 UTC
    draft = Draft(
        alert_id=alert_id_for(incident.key),
        incident_key=incident.key,
        version=1,
        received_at=AT,
        incident=incident,
        texts=[],
    )
    state = ApprovalState(
        draft=draft,
        requirement=Requirement(rule="grave", mode=ApprovalMode.ONE, escalate_after=timedelta(minutes=15)),
        status=DraftStatus.SCHEDULED,
        arrived_at=AT,
        publish_at=NOW + timedelta(hours=1),
        scheduled_by="alice",
    )
    decision = Decision(
        incident_key=state.draft.incident_key,
        alert_id=state.draft.alert_id,
        version=1,
        action=DecisionAction.RESCHEDULE,
        actor="bruno",
        roles=[Role.SUPERVISOR],
        at=NOW,
        publish_at=NOW + timedelta(hours=2),
    )
    (moved,) = schedule.reschedule(state, decision, NOW).audit
    assert moved.message == "moved from 2026-12-07T07:00:00Z to 2026-12-07T08:00:00Z"
    read = AuditEvent.model_validate_json(moved.model_dump_json())
    assert read.message_id == "moved from %(before)s to %(after)s" and read.params == moved.params
    pages = Pages("Europe/Paris")
    assert event_said(read, pages.catalogs["fr"], "fr", pages.zone) == (
        "déplacée du 07/12/2026 08:00:00 au 07/12/2026 09:00:00"
    )
    assert pages.explain(read, "message", "en") == "moved from 7 Dec 2026, 08:00:00 to 7 Dec 2026, 09:00:00"
    waiting = state.model_copy(update={"status": DraftStatus.PENDING, "publish_at": None})
    (called,) = tick(waiting, AT + timedelta(minutes=16)).audit
    assert called.message == "no decision within 15 min: supervisors called"
    french = event_said(called, pages.catalogs["fr"], "fr")
    assert french == "pas de décision en 15 min : superviseurs appelés"


def test_an_audit_event_stored_before_msgids_were_kept_shows_its_stored_message() -> None:
    """`message_id` and `params` came later: an event without them still reads, as it was written."""
    stored = json.dumps(
        {
            "event_id": "e1",
            "at": "2026-12-07T06:00:00Z",
            "actor": "system:deadline",
            "action": "escalated",
            "incident_key": "k",
            "alert_id": "a",
            "version": 1,
            "accepted": True,
            "message": "no decision within 15 min: supervisors called",
            "status": "pending",
            "policy": "grave (two)",
        }
    )
    old = AuditEvent.model_validate_json(stored)
    assert old.message_id == "" and old.params == {}
    pages = Pages("Europe/Paris")
    for language in ("fr", "en"):
        assert event_said(old, pages.catalogs[language], language) == old.message
        assert pages.explain(old, "message", language) == old.message
    reason = old.model_copy(update={"action": AuditAction.REJECT, "message": "texte à reprendre"})
    assert event_said(reason, pages.catalogs["en"], "en") == "texte à reprendre"  # a person's words


def test_the_console_s_own_audit_events_are_stored_in_english_with_their_msgid() -> None:
    """The duty desk and the console wrote their words in French, the log's readers read English:
    now English is stored, and each reader is shown their own language."""
    ack = acknowledged_event(
        actor="bruno", incident_key="k", alert_id="a", version=1, person="alice", stage="backup", now=NOW
    )
    assert ack.message == "bruno has it: the backup call to alice is acknowledged, nobody else is called"
    pages = Pages("Europe/Paris")
    assert event_said(ack, pages.catalogs["fr"], "fr") == (
        "bruno s'en charge : l'appel (renfort) à alice est pris en compte, personne d'autre n'est appelé"
    )

"""Replies to our alert e-mails: mail as clients really send it (pure), then read over IMAP
from a real dovecot (the `servers` tier).

The alert e-mail a citizen answers is built by the email channel itself (`build_message`), so
the Message-IDs the replies point at are the ones it really sets.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

import pytest
from channel_requests import delivery_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertcast.channels.email import EmailAccount, build_message
from alertcast.channels.email_parsing import (
    TRUNCATED,
    Received,
    Skipped,
    html_to_text,
    strip_quotes,
    thread_entry,
    to_reply,
)
from alertcast.channels.email_replies import ImapAccount, ImapCursor, read_replies
from alertcast.clock import clock
from alertcast.delivery.retry import PermanentError
from alertcast.replies.model import Reply

if TYPE_CHECKING:  # dovecot is started by the fixture only: the pure tier collects this file
    from servers.dovecot import Dovecot

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
CITIZEN = "Jeanne Martin <Jeanne.Martin@Exemple.FR>"
SENDER = EmailAccount(
    name="prefecture",
    host="127.0.0.1",
    username="alertes@prefecture.test",
    password_env="UNUSED_IN_THESE_TESTS",
    sender="Préfecture du Pas-de-Calais <alertes@prefecture.test>",
    to=["population@listes.prefecture.test"],
)


class Alerts:
    """Alert e-mails as the email channel sends them, and the lookup receipts would feed."""

    def __init__(self) -> None:
        self.index: dict[str, str] = {}

    def send(self, text: str = "Route D917 fermée à Arras.", alert_id: str | None = None) -> EmailMessage:
        request = delivery_request("email", text, alert_id=alert_id)
        message = build_message(SENDER, request, "Route D917 fermée", None)
        entry = thread_entry(str(message["Message-ID"]), request.alert_id)
        assert entry is not None
        self.index[entry[0]] = entry[1]
        return message

    def alert_of(self, message_id: str) -> str | None:
        return self.index.get(message_id)


def mail(
    body: str | bytes,
    *,
    in_reply_to: str | None = None,
    references: str | None = None,
    date: datetime | None = NOW,
    charset: str = "utf-8",
    content_type: str = "text/plain",
    sender: str = CITIZEN,
    message_id: str | None = None,
    extra: str = "",
) -> bytes:
    """A citizen's message as raw bytes, built by hand: clients do not all obey the RFCs."""
    headers = [f"From: {sender}", "To: alertes@prefecture.test", "Subject: Re: Route D917 fermée"]
    headers.append(f"Message-ID: <{message_id or uuid.uuid4().hex}@mail.exemple.fr>")
    if date is not None:
        headers.append(f"Date: {format_datetime(date)}")
    if in_reply_to:
        headers.append(f"In-Reply-To: {in_reply_to}")
    if references:
        headers.append(f"References: {references}")
    headers += ["MIME-Version: 1.0", f"Content-Type: {content_type}; charset={charset}"]
    headers.append("Content-Transfer-Encoding: 8bit")
    head = "\r\n".join(headers + ([extra] if extra else [])).encode("utf-8")
    data = body if isinstance(body, bytes) else body.encode(charset)
    return head + b"\r\n\r\n" + data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def read(raw: bytes, alerts: Alerts | None = None, arrived: datetime | None = None) -> Reply:
    outcome = to_reply(Received(raw, "test", arrived), (alerts or Alerts()).alert_of, NOW)
    assert isinstance(outcome, Reply), outcome
    return outcome


# --- pure: threading ----------------------------------------------------------------------------


def test_a_reply_threads_to_its_alert_through_in_reply_to() -> None:
    alerts = Alerts()
    alert = alerts.send(alert_id="a1b2c3d4e5f60718")
    reply = read(mail("La route est encore fermée chez moi.", in_reply_to=alert["Message-ID"]), alerts)
    assert reply.alert_id == "a1b2c3d4e5f60718"
    assert reply.network == "email" and reply.url is None
    assert reply.author == "Jeanne.Martin@exemple.fr"  # the address only: no display name kept
    assert reply.in_reply_to == str(alert["Message-ID"]).strip("<>")
    assert reply.conversation == reply.id.removeprefix("email:")  # the citizen's own thread
    assert reply.at == NOW and reply.text == "La route est encore fermée chez moi."


def test_references_alone_thread_it_to_the_alert_of_an_update() -> None:
    """Some clients drop In-Reply-To; References (root, then latest) still names our mails."""
    alerts = Alerts()
    root = alerts.send(alert_id="00000000000000aa")
    unknown = "<older.message@ailleurs.fr>"
    references = f"{root['Message-ID']} {unknown}"
    reply = read(mail("Merci.", references=references), alerts)
    assert reply.alert_id == "00000000000000aa"
    assert reply.in_reply_to == "older.message@ailleurs.fr"  # the nearest ancestor
    assert reply.conversation == "older.message@ailleurs.fr"  # the first message not ours


def test_a_mail_answering_no_alert_is_kept_as_a_mention(caplog: pytest.LogCaptureFixture) -> None:
    reply = read(mail("Bonjour, quand les bus reprennent-ils ?"))
    assert reply.alert_id is None and reply.in_reply_to is None
    unknown_ours = "<alertcast.0123456789abcdef0123456789abcdef@prefecture.test>"
    with caplog.at_level(logging.WARNING):
        orphan = read(mail("Et ici ?", in_reply_to=unknown_ours))
    assert orphan.alert_id is None
    assert "no e-mail receipt names" in caplog.text


def test_automatic_mail_and_copies_of_our_own_alerts_are_skipped_with_a_reason() -> None:
    alerts = Alerts()
    alert = alerts.send()
    own = to_reply(Received(alert.as_bytes(), "uid 1"), alerts.alert_of, NOW)
    assert isinstance(own, Skipped) and "our own alert" in own.reason
    vacation = mail("Je suis absente.", in_reply_to=alert["Message-ID"], extra="Auto-Submitted: auto-replied")
    skipped = to_reply(Received(vacation, "uid 2"), alerts.alert_of, NOW)
    assert (
        isinstance(skipped, Skipped) and skipped.reason == "automatic message (Auto-Submitted: auto-replied)"
    )
    report = mail("", content_type='multipart/report; report-type="delivery-status"; boundary="x"')
    assert isinstance(to_reply(Received(report, "uid 3"), alerts.alert_of, NOW), Skipped)


# --- pure: the citizen's own words ---------------------------------------------------------------


def test_quoted_text_is_stripped_from_a_french_gmail_reply() -> None:
    body = (
        "Toujours fermée au niveau du rond-point.\n"
        "\n"
        "-- \n"
        "Jeanne Martin\n"
        "06 12 34 56 78\n"
        "\n"
        "Le lun. 7 déc. 2026 à 10:00, Préfecture du Pas-de-Calais <alertes@prefecture.test> a\n"
        "écrit :\n"
        "\n"
        "> Route D917 fermée à Arras.\n"
        "> Source : préfecture\n"
    )
    assert strip_quotes(body) == "Toujours fermée au niveau du rond-point."
    top = "Merci pour l'info.\n\nLe 07/12/2026 à 10:00, Préfecture a écrit :\n> Route D917 fermée.\n"
    assert strip_quotes(top) == "Merci pour l'info."
    near = "Le pont est fermé.\nLe 07/12/2026 à 10:00, Préfecture a écrit :\n> Route D917 fermée.\n"
    assert strip_quotes(near) == "Le pont est fermé."  # a sentence above is not part of it


def test_quoted_text_is_stripped_from_an_english_reply_and_inline_answers_stay() -> None:
    body = (
        "On Mon, Dec 7, 2026 at 10:00 AM Préfecture <alertes@prefecture.test> wrote:\n"
        "> Route D917 closed in Arras.\n"
        "Still closed at my end.\n"
        "> Detour through Saint-Laurent.\n"
        "The detour is flooded too.\n"
    )
    assert strip_quotes(body) == "Still closed at my end.\nThe detour is flooded too."


def test_unmarked_quotes_of_outlook_and_thunderbird_are_cut() -> None:
    outlook = (
        "Quand la route rouvre-t-elle ?\n\n"
        "De : Préfecture du Pas-de-Calais <alertes@prefecture.test>\n"
        "Envoyé : lundi 7 décembre 2026 10:00\n"
        "À : population@listes.prefecture.test\n"
        "Objet : Route D917 fermée\n\n"
        "Route D917 fermée à Arras.\n"
    )
    assert strip_quotes(outlook) == "Quand la route rouvre-t-elle ?"
    original = "Ok merci\n-----Original Message-----\nFrom: Préfecture\nRoute D917 fermée.\n"
    assert strip_quotes(original) == "Ok merci"
    unmarked = "Merci !\nOn Mon, Dec 7, 2026 at 10:00 AM Préfecture wrote:\nRoute D917 fermée.\n"
    assert strip_quotes(unmarked) == "Merci !"


def test_a_reply_of_quotes_only_is_kept_whole() -> None:
    assert strip_quotes("> Route D917 fermée.\n") == "> Route D917 fermée."


def test_a_mail_without_date_takes_the_arrival_time_or_the_read_time() -> None:
    arrived = datetime(2026, 12, 7, 8, 15, tzinfo=UTC)
    assert read(mail("Sans date.", date=None), arrived=arrived).at == arrived
    assert read(mail("Sans date ni arrivée.", date=None)).at == NOW
    future = read(mail("Horloge folle.", date=arrived + timedelta(days=2)), arrived=arrived)
    assert future.at == arrived  # a sender's clock ahead must not shorten the 72-hour circuit
    garbage = mail("Date illisible.", date=None, extra="Date: le 7 décembre vers 10 h")
    assert read(garbage, arrived=arrived).at == arrived


def test_iso_8859_1_and_lying_or_unknown_charsets_are_read() -> None:
    latin = mail("Ma rue est inondée, à côté de l'école.", charset="ISO-8859-1")
    assert read(latin).text == "Ma rue est inondée, à côté de l'école."
    encoded_name = mail("Merci", sender="=?iso-8859-1?q?H=E9l=E8ne?= <helene@exemple.fr>")
    assert read(encoded_name).author == "helene@exemple.fr"
    unknown = mail("Bientôt rouverte ?".encode(), charset="x-inconnu")
    assert read(unknown).text == "Bientôt rouverte ?"  # an unknown label: UTF-8 tried
    lying = mail("Déviation par Achicourt".encode("cp1252"), charset="utf-8")
    assert read(lying).text == "Déviation par Achicourt"  # says UTF-8, is Windows-1252


def test_an_html_only_mail_becomes_text_without_markup_scripts_or_quotes() -> None:
    html = (
        "<html><head><style>p{color:red}</style><title>t</title></head><body>"
        "<p>La route est <b>toujours</b> fermée&nbsp;!</p>"
        "<script>alert('x')</script>"
        '<p>Voir <a href="https://arnaque.example/pay">le site officiel</a> &lt;vraiment&gt;</p>'
        '<div class="gmail_quote">Le lun. 7 déc. 2026, Préfecture a écrit :'
        "<blockquote>Route D917 fermée à Arras.</blockquote></div>"
        "</body></html>"
    )
    reply = read(mail(html, content_type="text/html"))
    assert reply.text == (
        "La route est toujours fermée !\n\nVoir le site officiel <https://arnaque.example/pay> <vraiment>"
    )
    assert html_to_text("<p>a<br>b</p><blockquote><p>quoted <b>deep</b></p></blockquote>c") == "a\nb\nc"


def test_a_multipart_mail_prefers_its_plain_text() -> None:
    message = EmailMessage()
    message["From"] = CITIZEN
    message["Message-ID"] = "<m1@exemple.fr>"
    message.set_content("Texte brut.")
    message.add_alternative("<p>Texte <i>HTML</i>.</p>", subtype="html")
    message.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename="photo.pdf")
    reply = read(message.as_bytes())
    assert reply.text == "Texte brut." and reply.id == "email:m1@exemple.fr"


def test_a_cut_message_says_so_and_a_huge_text_is_bounded() -> None:
    raw = mail("Début du message. " * 100)
    outcome = to_reply(Received(raw[:800], "uid 9", None, cut_at=800), Alerts().alert_of, NOW)
    assert isinstance(outcome, Reply) and outcome.text.endswith(TRUNCATED)
    huge = read(mail("mot " * 100_000))
    assert len(huge.text) < 21_000 and huge.text.endswith(TRUNCATED)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000), st.integers(min_value=0, max_value=600))
def test_no_bytes_crash_the_parser(noise: bytes, cut: int) -> None:
    """Whatever arrives (binary junk, a message cut anywhere) is a reply or a reasoned skip."""
    for raw in (noise, mail("Texte é", in_reply_to="<x@y>")[:cut] + noise):
        outcome = to_reply(Received(raw, "fuzz"), Alerts().alert_of, NOW)
        assert isinstance(outcome, Reply | Skipped)


# --- servers: a real dovecot ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    from servers.dovecot import Dovecot

    server = Dovecot()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def password_env(monkeypatch: pytest.MonkeyPatch, dovecot: Dovecot) -> str:
    name = f"ALERTCAST_TEST_IMAP_PASSWORD_{uuid.uuid4().hex[:6].upper()}"
    monkeypatch.setenv(name, dovecot.password)
    return name


@pytest.fixture
def mailbox(dovecot: Dovecot) -> str:
    """A mailbox of the test's own: cursors of other tests never see its messages."""
    name = f"replies-{uuid.uuid4().hex[:8]}"
    dovecot.create(name)
    return name


def imap_account(dovecot: Dovecot, password_env: str, mailbox: str, **extra: Any) -> ImapAccount:
    settings: dict[str, Any] = {
        "name": "prefecture",
        "host": "127.0.0.1",
        "port": dovecot.port,
        "username": dovecot.user,
        "password_env": password_env,
        "mailbox": mailbox,
        "ca_file": dovecot.cert,
        **extra,
    }
    return ImapAccount.model_validate(settings)


def ago(minutes: int) -> datetime:
    return (clock.now() - timedelta(minutes=minutes)).replace(microsecond=0)


servers_tier = pytest.mark.servers


@servers_tier
async def test_replies_are_read_once_threaded_to_their_alert(
    dovecot: Dovecot, password_env: str, mailbox: str
) -> None:
    alerts = Alerts()
    alert = alerts.send(alert_id="feedfacecafe0001")
    dovecot.append(alert.as_bytes(), mailbox, ago(30))  # our own copy, through the list
    sent = ago(20)
    dovecot.append(mail("Fermée chez moi.", in_reply_to=alert["Message-ID"], date=sent), mailbox)
    dovecot.append(mail("Merci.", references=str(alert["Message-ID"]), date=ago(10)), mailbox)
    dovecot.append(mail("Et les bus ?", date=ago(5)), mailbox)
    account = imap_account(dovecot, password_env, mailbox, batch=2)

    first = await read_replies(account, None, alerts.alert_of)
    assert first.more and first.cursor.last_uid == 2
    second = await read_replies(account, first.cursor, alerts.alert_of)
    assert not second.more and second.cursor.last_uid == 4
    replies = first.replies + second.replies
    assert [(r.text, r.alert_id) for r in replies] == [
        ("Fermée chez moi.", "feedfacecafe0001"),
        ("Merci.", "feedfacecafe0001"),
        ("Et les bus ?", None),
    ]
    assert [s.reason for s in first.skipped] == [f"one of our own alert e-mails ({alert['Message-ID']})"]
    assert replies[0].at == sent

    again = await read_replies(account, second.cursor, alerts.alert_of)
    assert again.replies == [] and again.skipped == [] and again.cursor == second.cursor
    dovecot.append(mail("Toujours rien ?"), mailbox)
    later = await read_replies(account, again.cursor, alerts.alert_of)
    assert [r.text for r in later.replies] == ["Toujours rien ?"] and later.cursor.last_uid == 5


@servers_tier
async def test_malformed_mails_from_the_server_all_become_replies(
    dovecot: Dovecot, password_env: str, mailbox: str
) -> None:
    arrived = ago(15)
    dovecot.append(mail("Pas de date.", date=None), mailbox, arrived)
    dovecot.append(mail("Inondée, à côté de l'école.", charset="ISO-8859-1", date=ago(14)), mailbox)
    dovecot.append(mail("<p>Seulement <b>HTML</b></p>", content_type="text/html", date=ago(13)), mailbox)
    dovecot.append(mail("Très long. " * 3000, date=ago(12)), mailbox)
    account = imap_account(dovecot, password_env, mailbox, max_message_bytes=10_000)

    batch = await read_replies(account, None, Alerts().alert_of)
    texts = [r.text for r in batch.replies]
    assert texts[:3] == ["Pas de date.", "Inondée, à côté de l'école.", "Seulement HTML"]
    assert texts[3].startswith("Très long.") and texts[3].endswith(TRUNCATED) and len(texts[3]) < 10_000
    assert batch.replies[0].at == arrived  # INTERNALDATE, as the server recorded the arrival
    assert batch.skipped == []


@servers_tier
async def test_a_new_uidvalidity_reads_again_from_the_start_without_repeats(
    dovecot: Dovecot, password_env: str, mailbox: str
) -> None:
    account = imap_account(dovecot, password_env, mailbox)
    old = [mail(f"Message {n}", message_id=f"m{n}-{mailbox}") for n in (1, 2)]
    for raw in old:
        dovecot.append(raw, mailbox)
    produced: set[str] = set()
    first = await read_replies(account, None, Alerts().alert_of, seen=produced.__contains__)
    produced |= {r.id for r in first.replies}
    assert len(produced) == 2

    before = dovecot.uidvalidity(mailbox)
    dovecot.recreate(mailbox)  # a restored mailbox: same mail, new UIDs
    for raw in [*old, mail("Message 3", message_id=f"m3-{mailbox}")]:
        dovecot.append(raw, mailbox)
    after = await read_replies(account, first.cursor, Alerts().alert_of, seen=produced.__contains__)
    assert (
        after.restarted_from == before and after.cursor.uidvalidity == dovecot.uidvalidity(mailbox) != before
    )
    assert [r.text for r in after.replies] == ["Message 3"] and after.cursor.last_uid == 3


@servers_tier
async def test_starttls_and_first_read_of_new_mail_only(
    dovecot: Dovecot, password_env: str, mailbox: str
) -> None:
    dovecot.append(mail("Ancien."), mailbox)
    account = imap_account(
        dovecot, password_env, mailbox, port=dovecot.starttls_port, security="starttls", first_read="new"
    )
    start = await read_replies(account, None, Alerts().alert_of)
    assert start.replies == [] and start.cursor.last_uid == 1
    dovecot.append(mail("Nouveau."), mailbox)
    assert [r.text for r in (await read_replies(account, start.cursor, Alerts().alert_of)).replies] == [
        "Nouveau."
    ]


@servers_tier
async def test_a_wrong_password_is_a_clear_permanent_error_that_never_shows_a_password(
    dovecot: Dovecot,
    password_env: str,
    mailbox: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    dovecot.append(mail("Bonjour."), mailbox)
    good = imap_account(dovecot, password_env, mailbox)
    assert len((await read_replies(good, None, Alerts().alert_of)).replies) == 1

    wrong = "Wr0ng-" + uuid.uuid4().hex
    monkeypatch.setenv("ALERTCAST_TEST_IMAP_WRONG", wrong)
    bad = imap_account(dovecot, "ALERTCAST_TEST_IMAP_WRONG", mailbox)
    with pytest.raises(PermanentError, match="login refused") as refused:
        await read_replies(bad, ImapCursor(account="prefecture"), Alerts().alert_of)
    message = str(refused.value)
    assert "AUTHENTICATIONFAILED" in message and "environment variable ALERTCAST_TEST_IMAP_WRONG" in message
    for secret in (wrong, dovecot.password):
        assert secret not in message and secret not in repr(refused.value)
        assert secret not in caplog.text


@servers_tier
async def test_a_utf8_password_logs_in_through_sasl_plain(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERTCAST_TEST_IMAP_UTF8", dovecot.utf8_password)
    account = imap_account(dovecot, "ALERTCAST_TEST_IMAP_UTF8", "INBOX", username=dovecot.utf8_user)
    assert (await read_replies(account, None, Alerts().alert_of)).cursor.uidvalidity
    monkeypatch.setenv("ALERTCAST_TEST_IMAP_UTF8", dovecot.utf8_password + "é")
    with pytest.raises(PermanentError, match="login refused") as refused:
        await read_replies(account, None, Alerts().alert_of)
    assert dovecot.utf8_password not in str(refused.value)


@servers_tier
async def test_an_untrusted_certificate_and_a_missing_mailbox_are_permanent(
    dovecot: Dovecot, password_env: str, mailbox: str
) -> None:
    untrusted = imap_account(dovecot, password_env, mailbox, ca_file=None)
    with pytest.raises(PermanentError, match="certificate is not trusted"):
        await read_replies(untrusted, None, Alerts().alert_of)
    missing = imap_account(dovecot, password_env, "no-such-mailbox")
    with pytest.raises(PermanentError, match="mailbox 'no-such-mailbox' cannot be read"):
        await read_replies(missing, None, Alerts().alert_of)

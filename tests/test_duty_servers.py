"""Duty calls through the real adapters (issue 21, "On duty"): the person on duty gets a Matrix
message in the room they share with the bot (a real Synapse) and an e-mail at their own
address (a real SMTP server, STARTTLS and AUTH), both with the acknowledgement link; the same
call sent again after a crash is one Matrix event."""

# ruff: noqa: F811 (the servers are test_channel_matrix's and test_channel_email's fixtures)

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from servers.synapse import Synapse, User
from test_channel_email import password_env, smtp  # noqa: F401
from test_channel_matrix import poster, synapse, token_env  # noqa: F401

from alertcast.channels.duty import DutyCaller
from alertcast.duty.escalation import Intent, Stage
from alertcast.duty.messages import build_call
from alertcast.duty.rota import Person, SendWith
from alertcast.settings import Settings

pytestmark = pytest.mark.servers

KEY = b"s" * 32


def intent(stage: Stage, person: str) -> Intent:
    return Intent(
        alert_id=uuid.uuid4().hex[:16],
        incident_key="prefecture-62/route-d934",
        version=1,
        stage=stage,
        person=person,
        service="routes",
        due_at=datetime.now(UTC),
        waiting_since=datetime.now(UTC),
        headline="Route D 934 fermée entre Arras et Cambrai",
        severity="Severe",
        incident_status="Actual",
        called_before=(),
    )


async def test_the_person_on_duty_gets_a_matrix_message_and_an_e_mail(
    synapse: Synapse, poster: User, token_env: str, smtp, password_env: str
) -> None:
    alice = synapse.register(f"alice-{uuid.uuid4().hex[:6]}")
    room = synapse.create_room(poster)  # the bot's direct room with alice
    synapse.invite(poster, room, alice)
    synapse.join(alice, room)
    settings = Settings(
        matrix_accounts=[
            {
                "name": "duty-bot",
                "homeserver": synapse.url,
                "room_id": "!unused:localhost",
                "access_token_env": token_env,
            }
        ],
        email_accounts=[
            {
                "name": "duty-mail",
                "host": "127.0.0.1",
                "port": smtp.port,
                "username": smtp.user,
                "password_env": password_env,
                "sender": "Permanence <permanence@prefecture.test>",
                "to": ["list@prefecture.test"],
                "ca_file": str(smtp.cert),
            }
        ],
    )
    person = Person(matrix=room, email="alice@prefecture.test")
    call = build_call(
        intent(Stage.PRIMARY, "alice"),
        person,
        "https://console.test",
        KEY,
        datetime.now(UTC),
        ZoneInfo("Europe/Paris"),
    )
    caller = DutyCaller(settings)
    try:
        sent, failed = await caller.call(
            call, person, SendWith(matrix="duty-bot")
        )  # e-mail: the only account
        assert (sent, failed) == (["matrix", "email"], {})
        again, _ = await caller.call(
            call, person, SendWith(matrix="duty-bot")
        )  # a worker killed after sending
        assert again == ["matrix", "email"]
    finally:
        await caller.aclose()

    bodies = [e["content"]["body"] for e in synapse.messages(alice, room) if e["type"] == "m.room.message"]
    assert len(bodies) == 1 and bodies[0] == call.text  # the same transaction id: one event
    assert call.ack_url is not None and call.ack_url in bodies[0]
    mails = [m for m in smtp.messages if "alice@prefecture.test" in m.rcpt_tos]
    assert len(mails) == 2  # SMTP cannot dedupe: the same Message-ID twice, for clients that do
    message = mails[0].message
    assert message["Subject"] == "À approuver : Route D 934 fermée entre Arras et Cambrai"
    assert message["Message-ID"] == mails[1].message["Message-ID"]
    assert call.ack_url in message.get_content() and mails[0].rcpt_tos == ["alice@prefecture.test"]


async def test_a_channel_that_fails_is_said_and_the_others_still_call(
    synapse: Synapse, poster: User, token_env: str
) -> None:
    room = synapse.create_room(poster)
    settings = Settings(
        matrix_accounts=[
            {
                "name": "duty-bot",
                "homeserver": synapse.url,
                "room_id": "!unused:localhost",
                "access_token_env": token_env,
            }
        ]
    )
    person = Person(matrix=room, email="bruno@prefecture.test")
    call = build_call(
        intent(Stage.BACKUP, "bruno"), person, "http://x", None, datetime.now(UTC), ZoneInfo("UTC")
    )
    caller = DutyCaller(settings)
    try:
        sent, failed = await caller.call(call, person, SendWith())
    finally:
        await caller.aclose()
    assert sent == ["matrix"] and list(failed) == ["email"]
    assert (
        "no email account chosen" in failed["email"]
        and "ALERTCAST_EMAIL_ACCOUNTS: none configured" in failed["email"]
    )

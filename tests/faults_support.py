"""What the fault tests share: the channel servers, one fresh identity per account on them for
each test, the worker settings that point at them, and reading posts back *from the servers*
(never from our own ledger), so "posted once" is counted where citizens would see it.

Loaded by the fault test modules as a plugin (`pytest_plugins = ["faults_support"]`), so the
session-scoped servers start once for the whole tier, not once per module:
- real processes for the whole session: the reference Bluesky PDS, Synapse, aiosmtpd (STARTTLS
  and AUTH) and mastodon-mock;
- the contract servers (X, Facebook, Telegram, the Mastodon contract server) are threads of
  this process, started fresh for each test: their switches (slow answers, held posts,
  revoked tokens, ignored Idempotency-Key) must never leak from one test into another.
"""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from conftest import Receiver
from kafka_io import read_until_found
from servers.facebook_contract import FacebookServer
from servers.mastodon_contract import ContractServer
from servers.mastodon_mock import MastodonMock
from servers.pds import Pds
from servers.synapse import Synapse, User
from servers.telegram_contract import TelegramServer
from servers.x_contract import XServer

from alertcast import examples
from alertcast.channels.webhook import account_id as webhook_account_id
from alertcast.clock import clock

if TYPE_CHECKING:  # aiosmtpd is imported when the fixture runs: other tiers collect this file
    from servers.smtp import Received, SmtpServer

#: Every channel of issue 9, in the order ALERTCAST_CHANNELS lists them.
ALL_CHANNELS = ("website", "webhook", "email", "mastodon", "bluesky", "matrix", "x", "facebook", "telegram")
_TAGS = re.compile(r"<[^>]+>")


@dataclass
class Servers:
    pds: Pds
    synapse: Synapse
    poster: User  # the Matrix user every test's rooms are posted to by
    smtp: SmtpServer
    mock: MastodonMock


@pytest.fixture(scope="session")
def channel_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """The real servers, once for the tier; a missing install fails here, it is never skipped."""
    from servers.smtp import SmtpServer

    started: list[Any] = []
    try:
        pds = Pds(tmp_path_factory.mktemp("pds")).start()
        started.append(pds)
        synapse = Synapse(tmp_path_factory.mktemp("synapse"))
        started.append(synapse)
        synapse.start()
        smtp = SmtpServer(tmp_path_factory.mktemp("smtp"))
        smtp.start()
        started.append(smtp)
        mock = MastodonMock(tmp_path_factory.mktemp("mastodon-mock")).start()
        started.append(mock)
        yield Servers(pds, synapse, synapse.register("alertcast-faults"), smtp, mock)
    finally:
        for server in reversed(started):
            server.stop()


@dataclass
class Identity:
    """One configured account and the identity behind it on its server."""

    channel: str
    name: str  # the account's name in deliveries and receipts
    exercise: bool
    config: dict[str, Any]  # as in ALERTCAST_<CHANNEL>_ACCOUNTS (secrets named, not given)
    ref: Any  # what reading back needs: a DID, a room id, an address, an account id...


@dataclass
class Networks:
    """The accounts of one test on every network, and what their servers hold."""

    servers: Servers
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    identities: list[Identity] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)  # environment variable -> secret
    receivers: list[Receiver] = field(default_factory=list)
    x: XServer = field(default_factory=lambda: XServer().start())
    facebook: FacebookServer = field(default_factory=lambda: FacebookServer().start())
    telegram: TelegramServer = field(default_factory=lambda: TelegramServer().start())
    mastodon: ContractServer = field(default_factory=lambda: ContractServer().start())

    def stop(self) -> None:
        self.release()  # a held answer would keep its server running
        for server in (self.x, self.facebook, self.telegram, self.mastodon):
            server.stop()
        for receiver in self.receivers:
            receiver.server.shutdown()

    def hold(self, held: bool = True) -> None:
        """Every contract server stores posts, then holds its answer while `held` (see each)."""
        for state in (self.x.state, self.facebook.state, self.telegram.state, self.mastodon.state):
            state.hold_posts = held

    def release(self) -> None:
        self.hold(False)

    def _secret(self, value: str) -> str:
        variable = f"ALERTCAST_FAULTS_SECRET_{len(self.secrets)}_{self.tag.upper()}"
        self.secrets[variable] = value
        return variable

    def add(
        self, channel: str, name: str = "prefecture", exercise: bool = False, mastodon: str = "mock"
    ) -> Identity:
        """A fresh identity for one account (`mastodon`: "mock" or "contract", which server)."""
        unique = f"f{self.tag}{len(self.identities)}"  # short: a PDS handle's label is 18 at most
        config: dict[str, Any] = {"name": name, "exercise": exercise}
        ref: Any
        if channel == "webhook":
            ref = Receiver()
            self.receivers.append(ref)
            name = webhook_account_id(ref.url)  # a plain webhook URL's account id: its hash
            config = {}
        elif channel == "email":
            ref = f"liste-{unique}@listes.prefecture.test"
            smtp = self.servers.smtp
            config |= {
                "host": "127.0.0.1",
                "port": smtp.port,
                "username": smtp.user,
                "password_env": self._secret(smtp.password),
                "sender": "Préfecture du Pas-de-Calais <alertes@prefecture.test>",
                "to": [ref],
                "ca_file": str(smtp.cert),
            }
        elif channel == "mastodon" and mastodon == "mock":
            account_id, token = self.servers.mock.dev_user(unique)
            ref = ("mock", account_id, token)
            config |= {"base_url": self.servers.mock.url, "access_token_env": self._secret(token)}
        elif channel == "mastodon":
            account_id, token = self.mastodon.state.add_account(unique)
            ref = ("contract", account_id, token)
            config |= {"base_url": self.mastodon.url, "access_token_env": self._secret(token)}
        elif channel == "bluesky":
            user = self.servers.pds.create_account(unique, f"app-{uuid.uuid4().hex}")
            ref = user.did
            config |= {
                "service": self.servers.pds.url,
                "identifier": user.handle,
                "app_password_env": self._secret(user.password),
            }
        elif channel == "matrix":
            ref = self.servers.synapse.create_room(self.servers.poster)
            config |= {
                "homeserver": self.servers.synapse.url,
                "room_id": ref,
                "access_token_env": self._secret(self.servers.poster.access_token),
            }
        elif channel == "x":
            user_id, token = self.x.state.add_user(unique)
            ref = user_id
            config |= {"api_base": self.x.url, "access_token_env": self._secret(token)}
        elif channel == "facebook":
            page_id, token = self.facebook.state.add_page(f"Préfecture {unique}")
            ref = page_id
            config |= {
                "page_id": page_id,
                "graph_base": self.facebook.url,
                "access_token_env": self._secret(token),
            }
        elif channel == "telegram":
            bot_id, token = self.telegram.state.add_bot(f"bot{unique}")
            ref = self.telegram.state.add_channel(f"Alertes {unique}", f"alertes{unique}")
            self.telegram.state.set_member(ref, bot_id, "administrator", can_post_messages=True)
            config |= {
                "chat_id": f"@alertes{unique}",
                "api_base": self.telegram.url,
                "access_token_env": self._secret(token),
            }
        elif channel == "website":
            ref, name, config = None, "default", {}
        else:
            raise ValueError(f"unknown channel {channel!r}")
        identity = Identity(channel, name, exercise, config, ref)
        self.identities.append(identity)
        return identity

    def env(self, base: dict[str, str]) -> dict[str, str]:
        """`base` (the worker's environment) with these accounts, their routes and secrets."""
        channels = [c for c in ALL_CHANNELS if any(i.channel == c for i in self.identities)]
        env = {**base, **self.secrets, "ALERTCAST_CHANNELS": json.dumps(channels)}
        env["ALERTCAST_WEBHOOK_URLS"] = json.dumps([receiver.url for receiver in self.receivers])
        env["ALERTCAST_WEBHOOK_SECRET"] = "test-webhook-secret"
        for channel in channels:
            configs = [i.config for i in self.identities if i.channel == channel and i.config]
            if configs:
                env[f"ALERTCAST_{channel.upper()}_ACCOUNTS"] = json.dumps(configs)
        routes = [
            {"channel": i.channel, "account": i.name, "exercise": True} for i in self.identities if i.exercise
        ]
        env["ALERTCAST_ROUTES"] = json.dumps(routes)
        return env

    # --- reading back, from the servers ------------------------------------------------------

    def posts(self, identity: Identity) -> list[dict[str, Any]]:
        """Everything this identity's server holds from it now, oldest first, each with `text`."""
        channel, ref = identity.channel, identity.ref
        if channel == "webhook":
            return [{**body, "text": body["text"]} for body in ref.bodies()]
        if channel == "email":
            return [{"message": m.message, "text": _plain(m)} for m in self.mails(ref)]
        if channel == "mastodon" and ref[0] == "mock":
            answer = httpx.get(
                f"{self.servers.mock.url}/api/v1/accounts/{ref[1]}/statuses",
                params={"limit": "40"},
                headers={"Authorization": f"Bearer {ref[2]}"},
                timeout=10,
            )
            statuses: list[dict[str, Any]] = answer.raise_for_status().json()
            return [
                {**s, "text": _unhtml(s["content"])} for s in sorted(statuses, key=lambda s: int(s["id"]))
            ]
        if channel == "mastodon":
            mine = sorted(self.mastodon.state.statuses_of(ref[1]), key=lambda s: int(s["id"]))
            return [{**s, "text": s["source_text"]} for s in mine]
        if channel == "bluesky":
            records = self.servers.pds.list_records(ref)
            return [{**r, "text": r["value"]["text"]} for r in sorted(records, key=lambda r: r["uri"])]
        if channel == "matrix":
            events = self.servers.synapse.messages(self.servers.poster, ref)
            return [
                {**e, "text": e["content"].get("body", "")} for e in events if e["type"] == "m.room.message"
            ]
        if channel == "x":
            return [
                {**p, "text": p["text"]}
                for p in sorted(self.x.state.posts_of(ref), key=lambda p: int(p["id"]))
            ]
        if channel == "facebook":
            return [
                {**p, "text": p["message"]}
                for p in sorted(self.facebook.state.posts_of(ref), key=lambda p: p["seq"])
            ]
        if channel == "telegram":
            return sorted(self.telegram.state.messages_in(ref), key=lambda m: int(m["message_id"]))
        raise ValueError(f"no server to read {channel!r} back from")

    def mails(self, address: str) -> list[Received]:
        return [m for m in self.servers.smtp.messages if address in m.rcpt_tos]


@pytest.fixture
def networks(channel_servers: Servers) -> Iterator[Networks]:
    running = Networks(channel_servers)
    try:
        yield running
    finally:
        running.stop()


def _plain(received: Received) -> str:
    body = received.message.get_body(("plain",))
    return str(body.get_content()) if body is not None else ""


def _unhtml(content: str) -> str:
    """Mastodon's HTML as the text a reader sees (paragraphs and breaks as new lines)."""
    content = re.sub(r"<br\s*/?>|</p><p>", "\n", content)
    return html.unescape(_TAGS.sub("", content))


# --- incidents ---------------------------------------------------------------------------------


def incident(folder: Path, example: str, tag: str, **changes: Any) -> Path:
    """An example incident whose identifiers (and references) are unique to this test: the
    broker and the servers are shared by every test of the session."""
    document = examples.document(example)
    document["identifier"] = f"{document['identifier']}-{tag}"
    for reference in document.get("references", []):
        reference["identifier"] = f"{reference['identifier']}-{tag}"
    document.update(changes)
    path = folder / f"{tag}-{document['identifier']}.json"
    path.write_text(json.dumps(document))
    return path


def cancel_of(alert: Path, sent: str | None = None) -> Path:
    """The Cancel of `alert` (sent now unless told): like real CAP Cancels, no <info> (it ends
    what was said)."""
    document = json.loads(alert.read_text())
    cancel = {key: value for key, value in document.items() if key != "info"}
    cancel |= {
        "identifier": f"{document['identifier']}-fin",
        "sent": sent or clock.now().isoformat(),
        "msg_type": "Cancel",
        "references": [{"sender": document["sender"], "identifier": document["identifier"]}],
    }
    path = alert.with_name(f"{cancel['identifier']}.json")
    path.write_text(json.dumps(cancel))
    return path


# --- topics ------------------------------------------------------------------------------------


def read_until(
    broker: str,
    topic: str,
    done: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 120.0,
    what: Callable[[], str] | str = "",
) -> list[dict[str, Any]]:
    """Every JSON message of `topic` from its start, once `done(messages)` holds."""
    return read_until_found(broker, topic, done, timeout, what)


def latest(receipts: list[dict[str, Any]]) -> dict[tuple[int, str, str], dict[str, Any]]:
    """The last receipt of each delivery (version, channel, account): a restarted worker repeats
    some. The worker's periodic account checks also write receipts (status `warning`, version 0):
    they are not deliveries, and left out."""
    return {(r["version"], r["channel"], r["account"]): r for r in receipts if r["status"] != "warning"}

"""The networks of `make demo`: a local server for every channel, one demo account on each, the
worker's settings that route to them, and their posts read back for the wall.

The servers are the tests' own (tests/servers/), imported from the repo checkout by path: the
demo runs from a clone (`make demo`), and the servers the adapters are tested against are the
ones whose stored posts the newcomer should see, not a second imitation. The contract servers
(Mastodon, X, Facebook, Telegram) and the SMTP server are threads of the demo process: the wall
reads their state directly and they end with it. Synapse and the Bluesky PDS are processes of
their own, started only when scripts/install-servers.sh installed them, in the background while
the broker starts, and stopped by their PID.
"""

from __future__ import annotations

import email.utils
import importlib
import json
import logging
import secrets
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alertcast.settings import ROOT
from alertcast.wall import StoredPost

SERVERS = ROOT / "tests" / "servers"
OPTIONAL_START_S = 90.0
"""How long Synapse and the PDS may take to start (they start while the broker does)."""
INSTALL_HINT = "scripts/install-servers.sh installs it"
SLOW = {"matrix": "Synapse", "bluesky": "the Bluesky PDS"}
"""The networks whose servers are installed apart and take seconds to start."""
ACCOUNT = "prefecture"
MAIL_TO = "abonnes@prefecture.test"

ORDER = ("email", "mastodon", "bluesky", "matrix", "x", "facebook", "telegram")
"""The wall's columns, in the order ALERTCAST_CHANNELS lists them elsewhere."""

Reader = Callable[[], list[StoredPost]]


def _servers(module: str) -> Any:
    """A module of tests/servers (a package named `servers`), from the checkout."""
    if str(SERVERS.parent) not in sys.path:
        sys.path.insert(0, str(SERVERS.parent))
    return importlib.import_module(f"servers.{module}")


def installed(network: str) -> bool:
    """Whether scripts/install-servers.sh installed the server of `network` (matrix, bluesky)."""
    if network == "matrix":
        return bool(_servers("synapse").PYTHON.exists())
    return bool((_servers("pds").install_dir() / ".alertcast-installed").exists())


class DemoNetworks:
    """Every network's server and its demo account; `stop` ends what was started, in reverse."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[Any] = []
        self.accounts: dict[str, dict[str, Any]] = {}
        self.secrets: dict[str, str] = {}
        self.readers: dict[str, Reader] = {}
        self.left_out: list[str] = []
        self._lock = threading.Lock()
        self._optional: list[threading.Thread] = []

    # --- starting ------------------------------------------------------------------------------

    def start_slow(self) -> None:
        """Synapse and the PDS, each in a thread, when installed: call `finish` to wait for them."""
        for name, start in (("matrix", self._start_synapse), ("bluesky", self._start_pds)):
            if not installed(name):
                with self._lock:
                    self.left_out.append(f"{name} ({SLOW[name]} is not installed: {INSTALL_HINT})")
                continue
            thread = threading.Thread(target=self._optional_start, args=(name, start), daemon=True)
            thread.start()
            self._optional.append(thread)

    def start_fast(self) -> None:
        """The contract servers and the SMTP server: a second or two, in this process."""
        self._start_mastodon()
        self._start_x()
        self._start_facebook()
        self._start_telegram()
        self._start_email()

    def finish(self, timeout_s: float = OPTIONAL_START_S) -> list[str]:
        """Wait for the slow servers; the networks left out, each with why."""
        for thread in self._optional:
            thread.join(timeout=timeout_s)
        with self._lock:
            return list(self.left_out)

    def _optional_start(self, name: str, start: Callable[[], None]) -> None:
        try:
            start()
        except Exception as error:  # too slow, or broken: the demo goes on without it
            with self._lock:
                self.left_out.append(
                    f"{name} ({SLOW[name]} did not start: {str(error).splitlines()[0][:160]})"
                )

    def _keep(self, server: Any) -> Any:
        with self._lock:
            self.started.append(server)
        return server

    def _secret(self, channel: str, value: str) -> str:
        variable = f"ALERTCAST_DEMO_SECRET_{channel.upper()}"
        self.secrets[variable] = value
        return variable

    def _add(self, channel: str, config: dict[str, Any], reader: Reader) -> None:
        with self._lock:
            self.accounts[channel] = {"name": ACCOUNT, "exercise": False, **config}
            self.readers[channel] = reader

    def _start_mastodon(self) -> None:
        server = self._keep(_servers("mastodon_contract").ContractServer().start())
        account_id, token = server.state.add_account(ACCOUNT)
        config = {"base_url": server.url, "access_token_env": self._secret("mastodon", token)}
        self._add("mastodon", config, lambda: _mastodon(server.state.statuses_of(account_id)))

    def _start_x(self) -> None:
        server = self._keep(_servers("x_contract").XServer().start())
        user_id, token = server.state.add_user(ACCOUNT)
        config = {"api_base": server.url, "access_token_env": self._secret("x", token)}
        self._add("x", config, lambda: _x(server.state.posts_of(user_id)))

    def _start_facebook(self) -> None:
        server = self._keep(_servers("facebook_contract").FacebookServer().start())
        page_id, token = server.state.add_page("Préfecture (démo)")
        config = {
            "page_id": page_id,
            "graph_base": server.url,
            "access_token_env": self._secret("facebook", token),
        }
        self._add("facebook", config, lambda: _facebook(server.state.posts_of(page_id)))

    def _start_telegram(self) -> None:
        server = self._keep(_servers("telegram_contract").TelegramServer().start())
        bot_id, token = server.state.add_bot("alertcast_demo_bot")
        chat = server.state.add_channel("Alertes (démo)", "alertesdemo")
        server.state.set_member(chat, bot_id, "administrator", can_post_messages=True)
        config = {
            "chat_id": "@alertesdemo",
            "api_base": server.url,
            "access_token_env": self._secret("telegram", token),
        }
        self._add("telegram", config, lambda: _telegram(server.state.messages_in(chat)))

    def _start_email(self) -> None:
        # aiosmtpd logs a deprecation of its own API at each login: noise in the demo's terminal.
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        folder = self.folder / "smtp"
        folder.mkdir(parents=True, exist_ok=True)
        server = _servers("smtp").SmtpServer(folder)
        server.start()
        self._keep(server)
        config = {
            "host": "127.0.0.1",
            "port": server.port,
            "username": server.user,
            "password_env": self._secret("email", server.password),
            "sender": "Préfecture (démo) <alertes@prefecture.test>",
            "to": [MAIL_TO],
            "ca_file": str(server.cert),
        }
        self._add("email", config, lambda: _mails(server.messages))

    def _start_synapse(self) -> None:
        folder = self.folder / "synapse"
        folder.mkdir(parents=True, exist_ok=True)
        server = self._keep(_servers("synapse").Synapse(folder))
        server.start()
        poster = server.register("alertcast-demo")
        room = server.create_room(poster, name="Alertes (démo)")
        config = {
            "homeserver": server.url,
            "room_id": room,
            "access_token_env": self._secret("matrix", poster.access_token),
        }
        self._add("matrix", config, lambda: _matrix(server.messages(poster, room)))

    def _start_pds(self) -> None:
        folder = self.folder / "pds"
        folder.mkdir(parents=True, exist_ok=True)
        server = self._keep(_servers("pds").Pds(folder))
        server.start(timeout=OPTIONAL_START_S)
        user = server.create_account(ACCOUNT, secrets.token_urlsafe(16))
        config = {
            "service": server.url,
            "identifier": user.handle,
            "app_password_env": self._secret("bluesky", user.password),
        }
        self._add("bluesky", config, lambda: _bluesky(server.list_records(user.did)))

    # --- what the worker and the wall need -----------------------------------------------------

    def channels(self) -> list[str]:
        with self._lock:
            return [channel for channel in ORDER if channel in self.accounts]

    def env(self) -> dict[str, str]:
        """The worker's settings for every started network (secrets by variable, as in production)."""
        with self._lock:
            env = dict(self.secrets)
            for channel, config in self.accounts.items():
                env[f"ALERTCAST_{channel.upper()}_ACCOUNTS"] = json.dumps([config])
        return env

    def posts(self) -> dict[str, list[StoredPost]]:
        """What each network's server holds now, oldest first; a server that cannot answer shows
        nothing this time (the wall reloads)."""
        with self._lock:
            readers = {channel: self.readers[channel] for channel in ORDER if channel in self.readers}
        found: dict[str, list[StoredPost]] = {}
        for channel, read in readers.items():
            try:
                found[channel] = read()
            except Exception:  # a server stopping, or busy: nothing to show this time
                found[channel] = []
        return found

    def stop(self) -> None:
        for thread in self._optional:
            thread.join()  # a server still starting would be left running
        with self._lock:
            started, self.started = self.started, []
        for server in reversed(started):
            server.stop()


# --- each server's posts as StoredPost -----------------------------------------------------------


def _mastodon(statuses: list[dict[str, Any]]) -> list[StoredPost]:
    return [
        StoredPost(
            post_id=str(s["id"]),
            text=str(s["source_text"]),
            posted_at=_time(s["created_at"]),
            edited=s.get("edited_at") is not None,
            reply_to=s.get("in_reply_to_id"),
        )
        for s in sorted(statuses, key=lambda s: int(s["id"]))
    ]


def _x(posts: list[dict[str, Any]]) -> list[StoredPost]:
    return [
        StoredPost(
            post_id=str(p["id"]),
            text=str(p["text"]),
            posted_at=_time(p["created_at"]),
            reply_to=p.get("in_reply_to"),
        )
        for p in sorted(posts, key=lambda p: int(p["id"]))
    ]


def _facebook(posts: list[dict[str, Any]]) -> list[StoredPost]:
    return [
        StoredPost(
            post_id=str(p["id"]),
            text=str(p["message"]),
            posted_at=_time(p["created_time"]),
            edited=bool(p.get("edits")),
        )
        for p in sorted(posts, key=lambda p: int(p["seq"]))
    ]


def _telegram(messages: list[dict[str, Any]]) -> list[StoredPost]:
    return [
        StoredPost(
            post_id=str(m["message_id"]),
            text=str(m.get("text", "")),
            posted_at=datetime.fromtimestamp(int(m["date"]), UTC),
            edited="edit_date" in m,
            reply_to=str(m["reply_to_message"]["message_id"]) if m.get("reply_to_message") else None,
        )
        for m in sorted(messages, key=lambda m: int(m["message_id"]))
    ]


def _mails(received: list[Any]) -> list[StoredPost]:
    posts = []
    for mail in received:
        if MAIL_TO not in mail.rcpt_tos:
            continue
        message = mail.message
        body = message.get_body(("plain",))
        text = str(body.get_content()) if body is not None else ""
        date = message["Date"]
        posts.append(
            StoredPost(
                post_id=str(message["Message-ID"]),
                text=f"Subject: {message['Subject']}\n\n{text.strip()}",
                posted_at=email.utils.parsedate_to_datetime(str(date)) if date else None,
                reply_to=str(message["In-Reply-To"]) if message["In-Reply-To"] else None,
            )
        )
    return posts


def _matrix(events: list[dict[str, Any]]) -> list[StoredPost]:
    posts = []
    for event in events:
        if event.get("type") != "m.room.message":
            continue
        content = event.get("content", {})
        relation = content.get("m.relates_to") or {}
        reply = (relation.get("m.in_reply_to") or {}).get("event_id") or (
            relation.get("event_id") if relation.get("rel_type") == "m.thread" else None
        )
        posts.append(
            StoredPost(
                post_id=str(event["event_id"]),
                text=str(content.get("body", "")),
                posted_at=datetime.fromtimestamp(int(event["origin_server_ts"]) / 1000, UTC),
                edited=relation.get("rel_type") == "m.replace",
                reply_to=reply,
            )
        )
    return posts


def _bluesky(records: list[dict[str, Any]]) -> list[StoredPost]:
    posts = [
        StoredPost(
            post_id=str(r["uri"]),
            text=str(r["value"].get("text", "")),
            posted_at=_time(r["value"].get("createdAt")),
            reply_to=((r["value"].get("reply") or {}).get("parent") or {}).get("uri"),
        )
        for r in records
    ]
    return sorted(posts, key=lambda p: p.posted_at or datetime.min.replace(tzinfo=UTC))


def _time(value: Any) -> datetime | None:
    """A server's timestamp (ISO 8601, 'Z' or '+0000'), None when it has none."""
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    if text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    return datetime.fromisoformat(text)

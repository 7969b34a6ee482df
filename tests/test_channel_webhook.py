"""The webhook channel: signatures a receiver can check, stable account ids, and URLs that are
credentials (a token in the path or the query) never shown whole.

The receiver here is written from the README's "Webhook signatures" section alone (header
names, what is signed, how old a timestamp may be), not from alertcast's code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from channel_requests import delivery_request
from conftest import free_port

from alertcast.channels.account import redact, shown_url
from alertcast.channels.base import PostResult
from alertcast.channels.registry import build_channels
from alertcast.channels.webhook import (
    WebhookAccount,
    WebhookChannel,
    WebhookConfigError,
    account_id,
    accounts_from,
)
from alertcast.delivery.retry import PermanentError, TransientError
from alertcast.http import make_client
from alertcast.models.incident import MsgType
from alertcast.settings import Settings

SECRET = "whsec-7f3a9c0d2b1e"
MAX_AGE_S = 300  # the README: "refuses a timestamp more than 300 seconds from its own clock"


def readme_verify(secret: bytes, headers: Mapping[str, str], body: bytes, now: float) -> str | None:
    """Why the request is refused (None: accepted), as the README tells a receiver to check."""
    timestamp = headers.get("X-Alertcast-Timestamp", "")
    if not timestamp.isdigit():
        return "no timestamp"
    if abs(now - int(timestamp)) > MAX_AGE_S:
        return "too old"
    expected = "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, headers.get("X-Alertcast-Signature", "")):
        return "bad signature"
    return None


class VerifyingReceiver:
    """A webhook endpoint that checks every request with `readme_verify` (401 when refused) and
    drops an Idempotency-Key it has already accepted. `now` is its clock; `answer` overrides."""

    def __init__(self, secret: str = SECRET, path: str = "/hook") -> None:
        self.secret = secret.encode()
        self.now: Callable[[], float] = time.time
        self.answer: tuple[int, str] | None = None
        self.raw: list[tuple[dict[str, str], bytes]] = []  # every request received
        self.accepted: list[dict[str, Any]] = []
        self.refusals: list[str] = []
        self.seen: set[str] = set()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = dict(self.headers.items())
                with receiver.lock:
                    receiver.raw.append((headers, body))
                    status, said = receiver.handle(headers, body)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(said.encode())

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        if self.answer is not None:
            return self.answer
        refused = readme_verify(self.secret, headers, body, self.now())
        if refused:
            self.refusals.append(refused)
            return 401, refused
        key = headers.get("Idempotency-Key", "")
        if key not in self.seen:
            self.seen.add(key)
            self.accepted.append(json.loads(body))
        return 202, "accepted"


@pytest.fixture
def hooks() -> Iterator[Callable[..., VerifyingReceiver]]:
    made: list[VerifyingReceiver] = []

    def make(**kwargs: Any) -> VerifyingReceiver:
        made.append(VerifyingReceiver(**kwargs))
        return made[-1]

    yield make
    for receiver in made:
        receiver.server.shutdown()
        receiver.server.server_close()


def channel(*entries: str | dict[str, str], secret: str = SECRET, unsigned: bool = False) -> WebhookChannel:
    return WebhookChannel(accounts_from(list(entries)), make_client(5.0), secret, unsigned=unsigned)


def request(account: str, text: str = "Route D917 fermée entre Arras et Lens.", **kwargs: Any) -> Any:
    return delivery_request("webhook", text, account=account, **kwargs)


# --- signatures -----------------------------------------------------------------------------------


async def test_a_receiver_written_from_the_readme_verifies_the_signature(
    hooks: Callable[..., VerifyingReceiver],
) -> None:
    receiver = hooks()
    adapter = channel(receiver.url)
    try:
        sent = request(account_id(receiver.url))
        await adapter.publish(sent)
        await adapter.update(
            request(account_id(receiver.url), version=2, msg_type=MsgType.UPDATE), PostResult()
        )
    finally:
        await adapter.aclose()
    assert receiver.refusals == []
    assert [body["version"] for body in receiver.accepted] == [1, 2]
    assert receiver.accepted[0]["delivery_key"] == sent.delivery_key
    headers, body = receiver.raw[0]
    assert headers["Idempotency-Key"] == sent.delivery_key
    assert abs(int(headers["X-Alertcast-Timestamp"]) - time.time()) < 60

    # What is signed is the timestamp and the raw body: change either and the receiver refuses.
    async with httpx.AsyncClient() as client:
        tampered = body.replace(b"D917", b"D918")
        assert (await client.post(receiver.url, content=tampered, headers=headers)).status_code == 401
        later = {**headers, "X-Alertcast-Timestamp": str(int(headers["X-Alertcast-Timestamp"]) + 1)}
        assert (await client.post(receiver.url, content=body, headers=later)).status_code == 401
    assert receiver.refusals == ["bad signature", "bad signature"]

    # A receiver with another secret refuses the same request.
    stranger = hooks(secret="another-secret")
    async with httpx.AsyncClient() as client:
        assert (await client.post(stranger.url, content=body, headers=headers)).status_code == 401
    assert stranger.refusals == ["bad signature"]


async def test_a_replayed_request_with_an_old_timestamp_is_refused_by_that_receiver(
    hooks: Callable[..., VerifyingReceiver],
) -> None:
    receiver = hooks()
    adapter = channel(receiver.url)
    try:
        await adapter.publish(request(account_id(receiver.url)))
    finally:
        await adapter.aclose()
    (headers, body) = receiver.raw[0]
    assert len(receiver.accepted) == 1
    signed_at = int(headers["X-Alertcast-Timestamp"])
    async with httpx.AsyncClient() as client:
        # Replayed at once: fresh and well signed, but its Idempotency-Key was seen: dropped.
        assert (await client.post(receiver.url, content=body, headers=headers)).status_code == 202
        assert len(receiver.accepted) == 1
        # Replayed later, exactly as captured: its timestamp is too old.
        receiver.now = lambda: signed_at + MAX_AGE_S + 1
        replay = await client.post(receiver.url, content=body, headers=headers)
        # ...and a fresh timestamp put on it breaks the signature.
        refreshed = {**headers, "X-Alertcast-Timestamp": str(signed_at + MAX_AGE_S + 1)}
        forged = await client.post(receiver.url, content=body, headers=refreshed)
    assert (replay.status_code, replay.text) == (401, "too old")
    assert (forged.status_code, forged.text) == (401, "bad signature")
    assert len(receiver.accepted) == 1


def test_webhook_urls_without_a_secret_refuse_to_start_unless_unsigned_is_chosen(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = "https://hooks.example.org/in/Xy7k2QmLp0"
    with pytest.raises(WebhookConfigError) as missing:
        build_channels(Settings(channels=["webhook"], webhook_urls=[url]))
    problem = missing.value.problem
    assert problem.path == "ALERTCAST_WEBHOOK_SECRET" and problem.rule == "webhook_secret_missing"
    assert "ALERTCAST_WEBHOOK_UNSIGNED=true" in problem.hint
    assert url not in str(missing.value)
    with pytest.raises(WebhookConfigError) as both:
        build_channels(
            Settings(channels=["webhook"], webhook_urls=[url], webhook_secret=SECRET, webhook_unsigned=True)
        )
    assert both.value.problem.path == "ALERTCAST_WEBHOOK_UNSIGNED"
    # No URL, nothing to sign: the default channels start without a secret.
    assert build_channels(Settings(channels=["webhook"], webhook_urls=[]))["webhook"].accounts() == []

    caplog.set_level(logging.INFO, logger="alertcast.channels.webhook")
    unsigned = build_channels(Settings(channels=["webhook"], webhook_urls=[url], webhook_unsigned=True))
    said = [r.getMessage() for r in caplog.records if r.name == "alertcast.channels.webhook"]
    assert len(said) == 1 and "UNSIGNED" in said[0] and "ALERTCAST_WEBHOOK_UNSIGNED=true" in said[0]
    assert unsigned["webhook"].accounts() == [account_id(url)]
    signed = build_channels(Settings(channels=["webhook"], webhook_urls=[url], webhook_secret=SECRET))
    assert signed["webhook"].accounts() == [account_id(url)]
    assert len([r for r in caplog.records if r.name == "alertcast.channels.webhook"]) == 1


def test_a_worker_with_webhook_urls_and_no_secret_refuses_to_start_saying_why(tmp_path: Path) -> None:
    token = "Wk4tokenInThePath9"
    env = {
        **os.environ,
        "ALERTCAST_CHANNELS": json.dumps(["webhook"]),
        "ALERTCAST_WEBHOOK_URLS": json.dumps([f"https://hooks.example.org/in/{token}"]),
        "ALERTCAST_BOOTSTRAP": f"127.0.0.1:{free_port()}",  # never reached: it stops before
        "ALERTCAST_WORKER_DATA_DIR": str(tmp_path / "data"),
    }
    env.pop("ALERTCAST_WEBHOOK_SECRET", None)
    env.pop("ALERTCAST_WEBHOOK_UNSIGNED", None)
    done = subprocess.run(
        [sys.executable, "-m", "alertcast", "worker"], env=env, capture_output=True, text=True, timeout=120
    )
    said = done.stdout + done.stderr
    assert done.returncode == 2 and "Traceback" not in said, said  # refused input: a line, not a crash
    assert "ALERTCAST_WEBHOOK_SECRET" in said and "ALERTCAST_WEBHOOK_UNSIGNED=true" in said, said
    assert token not in said


async def test_an_unsigned_channel_sends_no_signature(hooks: Callable[..., VerifyingReceiver]) -> None:
    receiver = hooks()
    adapter = channel(receiver.url, secret="", unsigned=True)
    try:
        with pytest.raises(PermanentError, match="answered 401"):
            await adapter.publish(request(account_id(receiver.url)))
    finally:
        await adapter.aclose()
    (headers, _), *_ = receiver.raw
    assert "X-Alertcast-Signature" not in headers and receiver.refusals == ["bad signature"]


def test_secrets_are_secret_strings() -> None:
    settings = Settings(
        webhook_secret=SECRET, session_key="console-key-9f2b", webhook_urls=["https://h/x/Tk3n9abc"]
    )
    shown = repr(settings) + str(settings)
    for secret in (SECRET, "console-key-9f2b", "Tk3n9abc"):
        assert secret not in shown
    assert settings.webhook_secret.get_secret_value() == SECRET
    assert settings.session_key.get_secret_value() == "console-key-9f2b"


# --- account ids ----------------------------------------------------------------------------------


async def test_reordering_the_list_keeps_each_urls_account_id(
    hooks: Callable[..., VerifyingReceiver],
) -> None:
    first, second = hooks(path="/a"), hooks(path="/b")
    before = channel(first.url, second.url)
    after = channel(second.url, first.url)
    try:
        assert before.accounts() == [account_id(first.url), account_id(second.url)]
        assert after.accounts() == [account_id(second.url), account_id(first.url)]
        assert account_id(first.url) != account_id(second.url)
        assert all(len(name) == 12 and int(name, 16) >= 0 for name in before.accounts())
        # The same id reaches the same receiver whatever the order.
        await before.publish(request(account_id(second.url), alert_id="a1"))
        await after.publish(request(account_id(second.url), alert_id="a2"))
    finally:
        await before.aclose()
        await after.aclose()
    assert [body["alert_id"] for body in second.accepted] == ["a1", "a2"]
    assert first.raw == []


async def test_a_named_account_keeps_its_name_and_an_unknown_one_is_refused(
    hooks: Callable[..., VerifyingReceiver],
) -> None:
    receiver = hooks()
    adapter = channel({"name": "prefecture-sig", "url": receiver.url}, "https://hooks.example.org/other")
    try:
        assert adapter.accounts() == ["prefecture-sig", account_id("https://hooks.example.org/other")]
        await adapter.publish(request("prefecture-sig"))
        with pytest.raises(PermanentError, match="no webhook account named '0'"):
            await adapter.publish(request("0"))
    finally:
        await adapter.aclose()
    assert len(receiver.accepted) == 1
    with pytest.raises(WebhookConfigError, match="same id"):
        channel(receiver.url, receiver.url)
    with pytest.raises(WebhookConfigError, match="same id"):
        channel({"name": "a", "url": receiver.url}, {"name": "a", "url": "https://h.example/x"})


def test_a_bad_entry_is_named_by_its_position_without_echoing_its_url() -> None:
    token = "Qz81LmTokenInPath"
    for entry, where in (
        (f"ftp://files.example.org/{token}", "ALERTCAST_WEBHOOK_URLS[1].url"),
        ({"name": "bad name", "url": f"https://h.example/{token}"}, "ALERTCAST_WEBHOOK_URLS[1].name"),
        ({"url": f"https://h.example/{token}", "secret": "x"}, "ALERTCAST_WEBHOOK_URLS[1].secret"),
    ):
        with pytest.raises(WebhookConfigError) as refused:
            accounts_from(["https://h.example/ok", entry])
        assert refused.value.problem.path == where
        assert token not in str(refused.value) and token not in repr(refused.value.problem)


# --- URLs that are credentials ----------------------------------------------------------------------


async def test_a_failing_webhook_shows_no_token_in_errors_logs_or_results(
    hooks: Callable[..., VerifyingReceiver], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path_token, query_token = "s3cr3tPATHtoken", "s3cr3tQUERY"
    receiver = hooks(path=f"/hook/{path_token}")
    url = f"{receiver.url}?token={query_token}"
    gone = f"http://127.0.0.1:{free_port()}/in/{path_token}x?token={query_token}"
    adapter = channel(url, gone)
    said: list[str] = []
    try:
        receiver.answer = (403, f"token {query_token} revoked for {url}")
        with pytest.raises(PermanentError) as forbidden:
            await adapter.publish(request(account_id(url)))
        said += [str(forbidden.value), repr(forbidden.value)]
        receiver.answer = (500, "down")
        with pytest.raises(TransientError) as down:
            await adapter.publish(request(account_id(url)))
        said += [str(down.value)]
        with pytest.raises(TransientError) as unreachable:
            await adapter.publish(request(account_id(gone)))
        said += [str(unreachable.value)]
        health = await adapter.check(account_id(gone))
        assert not health.ok and health.problem
        said += [health.problem]
        receiver.answer = None
        result = await adapter.publish(request(account_id(url)))
        said += [result.model_dump_json()]
    finally:
        await adapter.aclose()
    assert result.url is None  # a receipt never carries the receiver's URL
    host = f"http://127.0.0.1:{receiver.server.server_address[1]}/<redacted>"
    assert f"webhook account {account_id(url)} ({host}) answered 403" in str(forbidden.value)
    assert "revoked" in str(forbidden.value)  # the receiver's reason stays, its tokens do not
    assert f"webhook account {account_id(url)} ({host}) answered 500" in str(down.value)
    assert account_id(gone) in str(unreachable.value) and "ConnectError" in str(unreachable.value)
    assert f"HTTP Request: POST {host}" in caplog.text  # httpx logged each request, redacted
    for text in [*said, caplog.text]:
        assert path_token not in text and query_token not in text, text


def test_shown_url_keeps_only_scheme_host_and_port() -> None:
    assert shown_url("https://hooks.example.org/services/T0/B1/XyZ?token=a") == (
        "https://hooks.example.org/<redacted>"
    )
    assert shown_url("http://user:pass@127.0.0.1:8080/") == "http://127.0.0.1:8080"
    assert shown_url("not a url") == "<redacted URL>"


def test_redact_hides_tokens_in_queries_and_passwords_in_any_url() -> None:
    text = (
        "GET https://api.example.org/x?token=T1&page=2&api_key=K2 https://bob:Pw3@h.example/ "
        "https://api.telegram.org/bot12:AB/getMe https://graph.example/me?access_token=A4"
    )
    cleaned = redact(text)
    for secret in ("T1", "K2", "Pw3", "12:AB", "A4"):
        assert secret not in cleaned
    assert "page=2" in cleaned and "https://bob:<redacted>@h.example/" in cleaned
    assert redact("Idempotency-Key=abc") == "Idempotency-Key=abc"  # not a URL's query


def test_an_account_repr_hides_its_url() -> None:
    account = WebhookAccount.of("https://hooks.example.org/in/Tok9secret")
    assert "Tok9secret" not in repr(account) + str(account) + account.where()

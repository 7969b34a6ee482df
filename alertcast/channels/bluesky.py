"""Bluesky (AT Protocol): each alert is an `app.bsky.feed.post` record in the account's repository.

One account = one identity (handle or DID) on its PDS (`service`), signed in with an **app
password** (never the main password) read from an environment variable or a secret file when
needed, never logged nor put into an error message. Sessions (`createSession`) are kept and
refreshed (`refreshSession`) when the PDS answers `ExpiredToken`; bsky.social limits
createSession to a few dozen an hour, so one is not made per post.

- publish: `com.atproto.repo.createRecord` with the text, `langs`, `createdAt` and link facets
  (byte offsets in UTF-8: "é" is 2 bytes, an emoji 4, so offsets are not string indexes).
- update: Bluesky has no edit; a reply in the thread (`reply.root` = the alert's first post,
  `reply.parent` = the last post of the alert, each a strong ref: uri + cid).
- end: a reply with the end-of-alert text, then, when the account says `delete_on_end`,
  `deleteRecord` of the alert's posts (the end notice stays).

Crash safety by construction: every record's key (rkey) is derived from the delivery key.
`app.bsky.feed.post` only accepts TIDs as keys (the PDS answers 400 "Invalid TID string"
otherwise), so the rkey is a TID-shaped value: the approval time to the second, plus 30 bits
of SHA-256(delivery key) in the sub-second microseconds and the clock id. It sorts like a
real TID of that moment, and a retry of the same delivery names the same record, so:
- `find_existing` asks for that record directly (`getRecord`): one exact lookup, however many
  posts the account made since, instead of scanning `listRecords` for a marker in the text;
- a second `createRecord` with the same key cannot make a second post: the PDS refuses it
  (the reference PDS answers 500), and publish then finds the record and returns it.
A text over 300 graphemes is refused before sending; the PDS's own refusals (400, e.g. a text
over 3,000 bytes) become a PermanentError with its reason.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alertcast.channels.account import Accounts, Secret, is_loopback, language_of, merged, text_of
from alertcast.channels.base import AccountHealth
from alertcast.clock import clock
from alertcast.delivery.retry import PermanentError, TransientError
from alertcast.models.alert import DeliveryRequest
from alertcast.models.incident import MsgType
from alertcast.models.post import PostResult
from alertcast.render.length import DEFAULT_LIMITS, count
from alertcast.render.reference import links
from alertcast.replies.actions import ReplyAction

POST = "app.bsky.feed.post"
THREADGATE = "app.bsky.feed.threadgate"
#: The threadgate lexicon's limit on `hiddenReplies` (300 in the reference PDS's lexicons).
MAX_HIDDEN = 300
LIMIT = DEFAULT_LIMITS["bluesky"] or 300
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
#: Answers that mean "this session's token is no longer good", not "you may not".
_SESSION_ERRORS = ("ExpiredToken", "InvalidToken")


class BlueskyAccount(BaseModel):
    """One Bluesky identity on its PDS. Exactly one app-password source must be given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", description="account id in deliveries")
    service: str = Field(default="https://bsky.social", description="the account's PDS (or entryway)")
    identifier: str = Field(min_length=3, description="handle (ville.bsky.social) or DID")
    app_password_env: str | None = Field(default=None, description="environment variable holding it")
    app_password_file: Path | None = Field(default=None, description="file holding it (a secret mount)")
    exercise: bool = Field(default=False, description="may receive Exercise/Test messages")
    delete_on_end: bool = Field(default=False, description="delete the alert's posts when it ends")
    web_url: str = Field(default="https://bsky.app", description="where citizens open a post")

    @field_validator("service")
    @classmethod
    def _https_unless_local(cls, value: str) -> str:
        """The password and tokens travel in requests: plain http only to this machine."""
        parts = httpx.URL(value)
        if parts.scheme not in ("http", "https") or not parts.host:
            raise ValueError("service must be an http(s) URL")
        if parts.scheme == "http" and not is_loopback(parts.host):
            raise ValueError("service must use https (plain http is allowed on 127.0.0.1 only)")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _one_password_source(self) -> BlueskyAccount:
        self._app_password().check()
        return self

    def _app_password(self) -> Secret:
        return Secret("app_password", self.app_password_env, self.app_password_file)

    def where(self) -> str:
        return f"bluesky account {self.name}"

    def password_source(self) -> str:
        """Where the app password comes from, for messages (never the password itself)."""
        return self._app_password().source()

    def app_password(self) -> str:
        """Read now, so a rotated secret is used without a restart."""
        return self._app_password().read(self.where())


class Session(BaseModel):
    """What createSession/refreshSession answer (the fields alertcast uses)."""

    model_config = ConfigDict(extra="ignore")

    did: str
    handle: str
    accessJwt: str = Field(repr=False)
    refreshJwt: str = Field(repr=False)
    active: bool = True
    status: str | None = None


class StrongRef(BaseModel):
    uri: str
    cid: str


def record_key(request: DeliveryRequest) -> str:
    """A TID-shaped record key, the same for every attempt of one delivery (see the module doc)."""
    digest = int.from_bytes(hashlib.sha256(request.delivery_key.encode()).digest()[:8], "big")
    micros = int(request.approved_at.timestamp()) * 1_000_000 + digest % 1_000_000
    clock_id = (digest >> 20) & 0x3FF
    return tid(micros, clock_id)


def action_record_key(action: ReplyAction) -> str:
    """The answer's record key: TID-shaped like `record_key`, from the request's time and id."""
    digest = int.from_bytes(hashlib.sha256(action.action_id.encode()).digest()[:8], "big")
    micros = int(action.at.timestamp()) * 1_000_000 + digest % 1_000_000
    return tid(micros, (digest >> 20) & 0x3FF)


def tid(micros: int, clock_id: int) -> str:
    """The 13-character base32-sortable form of (microseconds << 10 | clock id), top bit 0."""
    value = ((micros & ((1 << 53) - 1)) << 10) | (clock_id & 0x3FF)
    return "".join(_TID_ALPHABET[(value >> (5 * (12 - i))) & 31] for i in range(13))


def link_facets(text: str) -> list[dict[str, Any]]:
    """A link facet per http(s) URL, indexed in UTF-8 bytes as the lexicon requires."""
    facets = []
    for at, url in links(text):
        start = len(text[:at].encode("utf-8"))
        facets.append(
            {
                "index": {"byteStart": start, "byteEnd": start + len(url.encode("utf-8"))},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": url}],
            }
        )
    return facets


def _repo_of(uri: str) -> str:
    """The repo (DID) of an at:// URI."""
    return uri.removeprefix("at://").split("/", 1)[0]


def _now_text() -> str:
    return clock.now().astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rkey_of(uri: str) -> str:
    """The record key of an at:// URI (at://did/collection/rkey)."""
    return uri.rstrip("/").rsplit("/", 1)[-1]


def retry_after_of(response: httpx.Response, now: datetime) -> float | None:
    """`Retry-After` in seconds, else the PDS's `ratelimit-reset` (a Unix time)."""
    header = response.headers.get("Retry-After", "").strip()
    if header.isdigit():
        return float(header)
    reset = response.headers.get("ratelimit-reset", "").strip()
    if reset.isdigit():
        return max(int(reset) - now.timestamp(), 0.0)
    return None


class BlueskyChannel:
    id = "bluesky"

    def __init__(self, accounts: Sequence[BlueskyAccount], client: httpx.AsyncClient) -> None:
        self._accounts = Accounts("bluesky", accounts)
        self.client = client
        self._sessions: dict[str, Session] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def accounts(self) -> list[str]:
        return list(self._accounts)

    def account(self, name: str) -> BlueskyAccount:
        return self._accounts.named(name)

    async def did(self, name: str) -> str:
        """The account's DID, from its session (signing in once if none is kept): the reply
        reader needs it to tell our posts, and replies under them, from the rest."""
        return (await self._session(self.account(name))).did

    # --- the lifecycle -------------------------------------------------------------------------

    async def publish(self, request: DeliveryRequest) -> PostResult:
        account = self._accounts.for_request(request)
        return await self._create(account, request, reply=None)

    async def update(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        """No edits on Bluesky: a reply in the alert's thread."""
        account = self._accounts.for_request(request)
        return await self._create(account, request, reply=_reply_to(previous))

    async def end(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        """The end notice as a reply in the thread; then, if asked, the alert's posts deleted."""
        account = self._accounts.for_request(request)
        reply = _reply_to(previous)
        result = await self._create(account, request, reply=reply)
        deleted = await self._delete_if_asked(account, reply)
        return merged(result, deleted=deleted)

    async def find_existing(self, request: DeliveryRequest) -> PostResult | None:
        """The record this delivery made, found by its deterministic key."""
        account = self.account(request.account)
        record = await self._get_record(account, record_key(request))
        if record is None:
            return None
        result = await self._result(account, record["uri"], record["cid"], record.get("value", {}))
        reply = record.get("value", {}).get("reply")
        if request.incident.msg_type is MsgType.CANCEL and isinstance(reply, dict):
            # The crash may have come between the end notice and the deletions: redo them.
            deleted = await self._delete_if_asked(account, reply)
            result = merged(result, deleted=deleted)
        return result

    async def check(self, account: str) -> AccountHealth:
        """A fresh sign-in with the app password (so a revoked one shows now); never posts."""
        health = AccountHealth(channel=self.id, account=account, ok=False, limit=LIMIT)
        try:
            config = self.account(account)
            session, response = await self._create_session(config)
        except (TransientError, PermanentError) as error:
            return health.model_copy(update={"problem": str(error)})
        remaining = response.headers.get("ratelimit-remaining", "")
        rate = int(remaining) if remaining.isdigit() else None
        if not session.active:
            problem = (
                f"bluesky account {account} ({session.handle}) is not active: {session.status or 'unknown'}"
            )
            return health.model_copy(update={"can_post": False, "rate_remaining": rate, "problem": problem})
        return health.model_copy(update={"ok": True, "can_post": True, "rate_remaining": rate})

    async def aclose(self) -> None:
        await self.client.aclose()

    # --- citizens' replies (alertcast.replies.actions) ------------------------------------------

    async def hide_reply(self, action: ReplyAction) -> PostResult:
        """Hide (or show again) a reply under our thread: the thread's `app.bsky.feed.threadgate`
        record in our repo (same rkey as the thread's root post, which must be ours) lists it in
        `hiddenReplies`. Other rules
        of an existing threadgate (`allow`) are kept; a new one sets none (anyone may reply)."""
        account = self._for_action(action)
        session = await self._session(account)
        root = await self._thread_root(account, action)
        if not root.startswith(f"at://{session.did}/{POST}/"):
            raise PermanentError(
                f"bluesky account {account.name}: the thread {root} is not ours; a threadgate "
                "only hides replies under our own posts"
            )
        rkey = rkey_of(root)
        existing = await self._get_in(account, session.did, THREADGATE, rkey)
        record: dict[str, Any] = dict(existing["value"]) if existing else {"$type": THREADGATE, "post": root}
        record.setdefault("createdAt", _now_text())
        hidden = [uri for uri in record.get("hiddenReplies", []) if uri != action.target]
        if action.kind == "hide":
            hidden.append(action.target)
        if len(hidden) > MAX_HIDDEN:
            raise PermanentError(
                f"bluesky account {account.name}: a thread hides at most {MAX_HIDDEN} replies"
            )
        record["hiddenReplies"] = hidden
        body = {"repo": session.did, "collection": THREADGATE, "rkey": rkey, "record": record}
        answer = await self._xrpc(account, "POST", "com.atproto.repo.putRecord", body=body)
        return PostResult(
            post_id=str(answer.get("uri", "")),
            details={"cid": answer.get("cid"), "hidden_replies": hidden},
        )

    async def answer(self, action: ReplyAction) -> PostResult:
        """A post replying to the citizen's (parent: theirs, root: the thread's), under a record
        key derived from the action's id: a second attempt names the same record."""
        account = self._for_action(action)
        text = action.text or ""
        length = count("bluesky", text)
        if not length.fits:
            raise PermanentError(
                f"bluesky account {account.name}: the answer is {length.length} graphemes; "
                f"Bluesky allows {LIMIT}: it was not posted"
            )
        parent = await self._get_in(account, _repo_of(action.target), POST, rkey_of(action.target))
        if parent is None:
            raise PermanentError(f"bluesky: the reply {action.target} no longer exists: nothing to answer")
        own = StrongRef(uri=parent["uri"], cid=parent["cid"]).model_dump()
        thread = parent.get("value", {}).get("reply")
        root = StrongRef.model_validate(thread["root"]).model_dump() if isinstance(thread, dict) else own
        record: dict[str, Any] = {
            "$type": POST,
            "text": text,
            "createdAt": _now_text(),
            "langs": ["fr"],
            "reply": {"root": root, "parent": own},
        }
        if facets := link_facets(text):
            record["facets"] = facets
        rkey = action_record_key(action)
        session = await self._session(account)
        body = {"repo": session.did, "collection": POST, "rkey": rkey, "record": record}
        try:
            answer = await self._xrpc(account, "POST", "com.atproto.repo.createRecord", body=body)
        except (TransientError, PermanentError) as error:
            found = await self.find_answer(action)  # the key exists: our earlier attempt
            if found is None:
                raise error from None
            return found
        return await self._result(account, answer["uri"], answer["cid"], record)

    async def find_answer(self, action: ReplyAction) -> PostResult | None:
        account = self._for_action(action)
        session = await self._session(account)
        record = await self._get_in(account, session.did, POST, action_record_key(action))
        if record is None:
            return None
        return await self._result(account, record["uri"], record["cid"], record.get("value", {}))

    async def _thread_root(self, account: BlueskyAccount, action: ReplyAction) -> str:
        """The thread's root post, from the reply's own `reply.root` (the inbox's conversation is
        the citizen's sub-thread, not the root); a reply deleted since: the conversation given."""
        record = await self._get_in(account, _repo_of(action.target), POST, rkey_of(action.target))
        thread = (record or {}).get("value", {}).get("reply")
        if isinstance(thread, dict) and isinstance(thread.get("root"), dict):
            return str(thread["root"].get("uri", action.conversation))
        return action.conversation

    def _for_action(self, action: ReplyAction) -> BlueskyAccount:
        return self.account(action.account or next(iter(self._accounts), ""))

    async def _get_in(
        self, account: BlueskyAccount, repo: str, collection: str, rkey: str
    ) -> dict[str, Any] | None:
        params = {"repo": repo, "collection": collection, "rkey": rkey}
        try:
            return await self._xrpc(account, "GET", "com.atproto.repo.getRecord", params=params)
        except _RecordNotFound:
            return None

    # --- records -------------------------------------------------------------------------------

    async def _create(
        self, account: BlueskyAccount, request: DeliveryRequest, reply: dict[str, Any] | None
    ) -> PostResult:
        text = text_of(request)
        length = count("bluesky", text)
        if not length.fits:
            raise PermanentError(
                f"bluesky account {account.name}: the text is {length.length} graphemes; "
                f"Bluesky allows {LIMIT}: it was not posted"
            )
        record: dict[str, Any] = {
            "$type": POST,
            "text": text,
            "createdAt": clock.now()
            .astimezone(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "langs": [language_of(request)],
        }
        facets = link_facets(text)
        if facets:
            record["facets"] = facets
        if reply is not None:
            record["reply"] = reply
        rkey = record_key(request)
        session = await self._session(account)
        body = {"repo": session.did, "collection": POST, "rkey": rkey, "record": record}
        try:
            answer = await self._xrpc(account, "POST", "com.atproto.repo.createRecord", body=body)
        except (TransientError, PermanentError) as error:
            # Refused because the key exists? Then this delivery was already posted: that post.
            try:
                existing = await self._get_record(account, rkey)
            except (TransientError, PermanentError):
                existing = None
            if existing is None:
                raise error from None
            return await self._result(account, existing["uri"], existing["cid"], existing.get("value", {}))
        return await self._result(account, answer["uri"], answer["cid"], record)

    async def _get_record(self, account: BlueskyAccount, rkey: str) -> dict[str, Any] | None:
        session = await self._session(account)
        params = {"repo": session.did, "collection": POST, "rkey": rkey}
        try:
            return await self._xrpc(account, "GET", "com.atproto.repo.getRecord", params=params)
        except _RecordNotFound:
            return None

    async def _delete_if_asked(self, account: BlueskyAccount, reply: dict[str, Any]) -> list[str]:
        """Deletes the thread's root and parent (deleting a missing record succeeds)."""
        if not account.delete_on_end:
            return []
        session = await self._session(account)
        uris = list(dict.fromkeys([reply["root"]["uri"], reply["parent"]["uri"]]))
        for uri in uris:
            body = {"repo": session.did, "collection": POST, "rkey": rkey_of(uri)}
            await self._xrpc(account, "POST", "com.atproto.repo.deleteRecord", body=body)
        return uris

    async def _result(
        self, account: BlueskyAccount, uri: str, cid: str, record: dict[str, Any]
    ) -> PostResult:
        session = await self._session(account)
        reply = record.get("reply")
        root = reply["root"] if isinstance(reply, dict) else {"uri": uri, "cid": cid}
        return PostResult(
            post_id=uri,
            url=f"{account.web_url}/profile/{session.handle}/post/{rkey_of(uri)}",
            details={"cid": cid, "rkey": rkey_of(uri), "root": root},
        )

    # --- sessions ------------------------------------------------------------------------------

    def _lock(self, account: BlueskyAccount) -> asyncio.Lock:
        return self._locks.setdefault(account.name, asyncio.Lock())

    async def _session(self, account: BlueskyAccount) -> Session:
        """The kept session, or a new one (one sign-in at a time per account)."""
        async with self._lock(account):
            if account.name not in self._sessions:
                self._sessions[account.name], _ = await self._create_session(account)
            return self._sessions[account.name]

    async def _renew(self, account: BlueskyAccount, stale: Session) -> None:
        """After ExpiredToken: refresh the session, or sign in again if the refresh is refused."""
        async with self._lock(account):
            if self._sessions.get(account.name) is not stale:
                return  # another call renewed it meanwhile
            try:
                response = await self._send(
                    account, "POST", "com.atproto.server.refreshSession", stale.refreshJwt
                )
                self._sessions[account.name] = Session.model_validate(response.json())
            except PermanentError:
                self._sessions[account.name], _ = await self._create_session(account)

    async def _create_session(self, account: BlueskyAccount) -> tuple[Session, httpx.Response]:
        body = {"identifier": account.identifier, "password": account.app_password()}
        try:
            response = await self._send(account, "POST", "com.atproto.server.createSession", None, body=body)
        except PermanentError as error:
            if "AuthenticationRequired" in str(error) or "401" in str(error):
                raise PermanentError(
                    f"bluesky account {account.name} ({account.identifier}): identifier or app password "
                    f"refused; renew the app password in {account.password_source()}"
                ) from None
            raise
        return Session.model_validate(response.json()), response

    # --- XRPC ----------------------------------------------------------------------------------

    async def _xrpc(
        self,
        account: BlueskyAccount,
        method: str,
        nsid: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """An authenticated call, renewing the session once if its token expired."""
        session = await self._session(account)
        try:
            response = await self._send(account, method, nsid, session.accessJwt, body, params)
        except _StaleSession:
            await self._renew(account, session)
            session = await self._session(account)
            response = await self._send(account, method, nsid, session.accessJwt, body, params)
        answer = response.json()
        return answer if isinstance(answer, dict) else {}

    async def _send(
        self,
        account: BlueskyAccount,
        method: str,
        nsid: str,
        token: str | None,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One request; errors become TransientError / PermanentError with the PDS's reason.
        Tokens and the password go in the header or body only, never in a URL or a message."""
        where = f"bluesky account {account.name} ({account.service})"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = await self.client.request(
                method, f"{account.service}/xrpc/{nsid}", json=body, params=params, headers=headers
            )
        except httpx.TransportError as error:
            raise TransientError(f"{where}: {type(error).__name__}: {error}") from None
        if response.is_success:
            try:
                response.json()
            except ValueError:
                raise TransientError(f"{where} answered {response.status_code} without JSON") from None
            return response
        name, message = _error_of(response)
        reason = f"{where} answered {response.status_code} {name} to {nsid}: {message}"
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientError(reason, retry_after_of(response, clock.now()))
        if token is not None and (name in _SESSION_ERRORS or response.status_code == 401):
            raise _StaleSession(reason)
        if name == "RecordNotFound":
            raise _RecordNotFound(reason)
        raise PermanentError(reason)


class _StaleSession(PermanentError):
    """The access token expired or was revoked: renew the session, then try once more."""


class _RecordNotFound(PermanentError):
    """getRecord's answer for a key with no record."""


def _error_of(response: httpx.Response) -> tuple[str, str]:
    """(error, message) of an XRPC error body, tolerant of other bodies."""
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        return str(body.get("error", "")), str(body.get("message", ""))[:300]
    return "", str(body)[:200]


def _reply_to(previous: PostResult) -> dict[str, Any]:
    """The reply refs: root = the alert's first post, parent = the last post of the alert.

    The delivery agent gives the thread's root post with its latest post in `details["latest"]`
    (alertcast.delivery.ledger.in_thread); without it, `previous` is itself the last post."""
    cid = previous.details.get("cid")
    if not previous.post_id or not cid:
        raise PermanentError("the alert's Bluesky post is unknown (uri and cid): nothing to reply to")
    own = StrongRef(uri=previous.post_id, cid=str(cid)).model_dump()
    root = previous.details.get("root") or own
    latest = previous.details.get("latest") or {}
    latest_cid = (latest.get("details") or {}).get("cid")
    parent = (
        StrongRef(uri=latest["post_id"], cid=str(latest_cid)).model_dump()
        if latest.get("post_id") and latest_cid
        else own
    )
    return {"root": StrongRef.model_validate(root).model_dump(), "parent": parent}

"""Matrix (Tchap, the French State's messenger, is Matrix): each alert is a message in a room.

One account = one room posted to by one Matrix user (homeserver, room id, access token).
The token comes from an environment variable or a secret file, read when needed (a rotated
file is picked up) and never logged nor put into an error message.

- publish: an `m.text` message with a plain `body` and an HTML `formatted_body` (escaped from
  the text, never trusted as HTML).
- update: an edit, an `m.replace` relation to the first message with the new text in
  `m.new_content` (and a "* "-prefixed fallback for clients that ignore edits, per the spec).
  Edits always point at the original event, never at an earlier edit.
- end: an end-of-alert message as a *reply* (`m.in_reply_to`) to the first message, and a
  redaction of that message when the account says `delete_on_end`. A reply, not a thread:
  threads put the message in a side panel that room members have to open, whereas the end of an
  alert must show in the main timeline where the alert was read, and clients without thread
  support show a thread message out of context; a reply still links the two, quoting the alert.

Crash safety, in two layers:
1. The transaction id of every send is derived from the delivery key, and a homeserver answers
   the same event id for the same transaction id from the same device (Synapse keeps them for
   24 hours: its `_cleanup_old_transaction_ids`): a retry after a crash between send and record
   does not post twice.
2. That window is bounded (24 h, same access token), so `find_existing` does not rely on it: each
   message carries its delivery key in its content (`MARKER`), and `find_existing` looks for it
   among the account's own recent messages in the room. Found: that post. Not found: None, and
   the delivery agent posts again (with the same transaction id, so layer 1 still holds).

Encrypted rooms are not supported (alertcast sends unencrypted events): `check` says so.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import Field, field_validator

from alertcast.channels.account import Accounts, TokenAccount, https_unless_local, text_as_rendered
from alertcast.channels.base import AccountHealth
from alertcast.delivery.retry import PermanentError, TransientError
from alertcast.models.alert import DeliveryRequest
from alertcast.models.post import PostResult
from alertcast.replies.actions import ReplyAction

#: Content key carrying the delivery key, so a post can be recognised after a crash.
#: (Custom keys in event content are allowed; namespaced so no client reads them as its own.)
MARKER = "org.alertcast.delivery_key"
HTML_FORMAT = "org.matrix.custom.html"
_CLIENT = "/_matrix/client/v3"


class MatrixAccount(TokenAccount):
    """One room posted to by one Matrix user. Exactly one token source must be given."""

    channel = "matrix"

    homeserver: str = Field(description="client API base URL, e.g. https://matrix.agent.tchap.gouv.fr")
    room_id: str = Field(pattern=r"^!\S+$", description="the room's id (!...), not an alias")
    delete_on_end: bool = Field(default=False, description="redact the alert when it ends")
    lookup_depth: int = Field(
        default=500, ge=0, description="how many of the account's recent messages find_existing reads"
    )

    @field_validator("homeserver")
    @classmethod
    def _https(cls, value: str) -> str:
        return https_unless_local(value, "homeserver")


def transaction_id(delivery_key: str, step: str = "send") -> str:
    """Stable per delivery (and step): the same delivery retried reuses it. Hashed, because the
    key holds characters a path segment should not and the server bounds its length."""
    digest = hashlib.sha256(f"{delivery_key}|{step}".encode()).hexdigest()[:32]
    return f"alertcast-{step}-{digest}"


def message_content(text: str) -> dict[str, Any]:
    """`m.text` with its HTML twin, escaped: alert texts are plain text, never markup."""
    formatted = "<br>".join(html.escape(line) for line in text.split("\n"))
    return {"msgtype": "m.text", "body": text, "format": HTML_FORMAT, "formatted_body": formatted}


def permalink(room_id: str, event_id: str) -> str:
    return f"https://matrix.to/#/{quote(room_id, safe='!')}/{quote(event_id, safe='')}"


class MatrixChannel:
    id = "matrix"

    def __init__(self, accounts: Sequence[MatrixAccount], client: httpx.AsyncClient) -> None:
        self._accounts = Accounts("matrix", accounts)
        self.client = client

    def accounts(self) -> list[str]:
        return list(self._accounts)

    def account(self, name: str) -> MatrixAccount:
        return self._accounts.named(name)

    # --- the lifecycle -------------------------------------------------------------------------

    async def publish(self, request: DeliveryRequest) -> PostResult:
        account = self._accounts.for_request(request)
        content = {**message_content(text_as_rendered(request)), MARKER: request.delivery_key}
        event_id = await self._send(account, request.delivery_key, content)
        return self._result(account, request.delivery_key, event_id)

    async def update(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        """An edit of the first message (`previous` is the thread's root)."""
        account = self._accounts.for_request(request)
        original = _event_id(previous)
        new = message_content(text_as_rendered(request))
        content = {
            **new,
            "body": f"* {new['body']}",
            "formatted_body": f"* {new['formatted_body']}",
            "m.new_content": new,
            "m.relates_to": {"rel_type": "m.replace", "event_id": original},
            MARKER: request.delivery_key,
        }
        event_id = await self._send(account, request.delivery_key, content)
        result = self._result(account, request.delivery_key, event_id, replaces=original)
        # The post citizens follow is still the original message, now showing the new text.
        return result.model_copy(update={"url": permalink(account.room_id, original)})

    async def end(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        """A reply to the first message saying the alert is over; then its redaction if asked."""
        account = self._accounts.for_request(request)
        original = _event_id(previous)
        content = {
            **message_content(text_as_rendered(request)),
            "m.relates_to": {"m.in_reply_to": {"event_id": original}},
            MARKER: request.delivery_key,
        }
        event_id = await self._send(account, request.delivery_key, content)
        redaction = await self._redact_if_asked(account, request.delivery_key, original)
        return self._result(
            account, request.delivery_key, event_id, in_reply_to=original, redaction=redaction
        )

    async def find_existing(self, request: DeliveryRequest) -> PostResult | None:
        """The message carrying this delivery key among the account's recent ones in the room."""
        account = self.account(request.account)
        event = await self._find_marked(account, request.delivery_key)
        return None if event is None else await self._found(account, request, event)

    async def _find_marked(self, account: MatrixAccount, key: str) -> dict[str, Any] | None:
        """The account's recent message in the room whose content carries `key` (`MARKER`)."""
        user_id = await self._whoami(account)
        room = quote(account.room_id, safe="")
        params = {
            "dir": "b",
            "limit": str(min(100, max(account.lookup_depth, 1))),
            "filter": json.dumps({"types": ["m.room.message"], "senders": [user_id]}),
        }
        seen = 0
        while seen < account.lookup_depth:
            page = await self._call(account, "GET", f"/rooms/{room}/messages", params=params)
            chunk: list[dict[str, Any]] = page.get("chunk", [])
            for event in chunk:
                if event.get("content", {}).get(MARKER) == key:
                    return event
            seen += len(chunk)
            if not chunk or "end" not in page:
                return None
            params["from"] = str(page["end"])
        return None

    # --- citizens' replies in our room (alertcast.replies.actions) ------------------------------

    async def hide_reply(self, action: ReplyAction) -> PostResult:
        """A redaction of the citizen's message in the account's room (our user needs the
        room's redact power level). Final, so only once a person confirmed it; the transaction
        id comes from the action's id, and redacting a redacted event changes nothing."""
        account = self.account(action.account or next(iter(self._accounts), ""))
        if action.kind != "hide" or not action.confirmed_by:
            raise PermanentError(
                f"matrix account {account.name}: a redaction is final and needs a person's confirmation"
            )
        room = quote(account.room_id, safe="")
        txn = transaction_id(action.action_id, "redact")
        path = f"/rooms/{room}/redact/{quote(action.target, safe='')}/{txn}"
        answer = await self._call(
            account, "PUT", path, body={"reason": f"charte d'utilisation ({action.confirmed_by})"}
        )
        return PostResult(
            post_id=str(answer["event_id"]), details={"redacted": action.target, "room_id": account.room_id}
        )

    async def answer(self, action: ReplyAction) -> PostResult:
        """A reply (`m.in_reply_to`) to the citizen's message, under a transaction id from the
        action's id (the homeserver answers the same event for it) and carrying that id."""
        account = self.account(action.account or next(iter(self._accounts), ""))
        content = {
            **message_content(action.text or ""),
            "m.relates_to": {"m.in_reply_to": {"event_id": action.target}},
            MARKER: action.action_id,
        }
        event_id = await self._send(account, action.action_id, content)
        return self._result(account, action.action_id, event_id, in_reply_to=action.target)

    async def find_answer(self, action: ReplyAction) -> PostResult | None:
        account = self.account(action.account or next(iter(self._accounts), ""))
        event = await self._find_marked(account, action.action_id)
        if event is None:
            return None
        return self._result(account, action.action_id, str(event["event_id"]), in_reply_to=action.target)

    async def _found(
        self, account: MatrixAccount, request: DeliveryRequest, event: dict[str, Any]
    ) -> PostResult:
        """The result the interrupted call would have returned, finishing its last step if needed."""
        relation = event.get("content", {}).get("m.relates_to", {})
        event_id = str(event["event_id"])
        if relation.get("rel_type") == "m.replace":
            result = self._result(account, request.delivery_key, event_id, replaces=relation["event_id"])
            return result.model_copy(update={"url": permalink(account.room_id, relation["event_id"])})
        if "m.in_reply_to" in relation:
            original = str(relation["m.in_reply_to"]["event_id"])
            # The crash may have come between the end message and the redaction: redo it (idempotent).
            redaction = await self._redact_if_asked(account, request.delivery_key, original)
            return self._result(
                account, request.delivery_key, event_id, in_reply_to=original, redaction=redaction
            )
        return self._result(account, request.delivery_key, event_id)

    async def check(self, account: str) -> AccountHealth:
        """Token valid (whoami), joined to the room, allowed to post there, room not encrypted."""
        health = AccountHealth(channel=self.id, account=account, ok=False)
        try:
            config = self.account(account)
            user_id = await self._whoami(config)
            room = quote(config.room_id, safe="")
            member = await self._state(config, room, "m.room.member", user_id)
            if member is None or member.get("membership") != "join":
                state = member.get("membership") if member else "not a member"
                return health.model_copy(
                    update={
                        "can_post": False,
                        "problem": f"{user_id} is not joined to {config.room_id} ({state})",
                    }
                )
            create = await self._state(config, room, "m.room.create", "", whole_event=True) or {}
            levels = await self._state(config, room, "m.room.power_levels", "") or {}
            mine, needed = _power(create, levels, user_id, "m.room.message")
            if mine < needed:
                return health.model_copy(
                    update={
                        "can_post": False,
                        "problem": f"{user_id} has power level {mine} in {config.room_id}; "
                        f"posting needs {needed}",
                    }
                )
            if await self._state(config, room, "m.room.encryption", "") is not None:
                return health.model_copy(
                    update={
                        "can_post": False,
                        "problem": f"{config.room_id} is end-to-end encrypted; alertcast posts "
                        "unencrypted messages only: use an unencrypted (announcement) room",
                    }
                )
        except (TransientError, PermanentError) as error:
            return health.model_copy(update={"problem": str(error)})
        return health.model_copy(update={"ok": True, "can_post": True})

    async def aclose(self) -> None:
        await self.client.aclose()

    # --- for the reader of citizens' replies (alertcast.channels.matrix_replies) ---------------

    async def user_id(self, account: MatrixAccount) -> str:
        return await self._whoami(account)

    async def get(self, account: MatrixAccount, path: str, params: dict[str, str]) -> dict[str, Any]:
        """A GET of the client-server API (`path` after `/_matrix/client/v3`), with its errors."""
        return await self._call(account, "GET", path, params=params)

    # --- the client-server API -----------------------------------------------------------------

    async def _send(self, account: MatrixAccount, delivery_key: str, content: dict[str, Any]) -> str:
        room = quote(account.room_id, safe="")
        txn = transaction_id(delivery_key)
        answer = await self._call(account, "PUT", f"/rooms/{room}/send/m.room.message/{txn}", body=content)
        return str(answer["event_id"])

    async def _redact_if_asked(self, account: MatrixAccount, delivery_key: str, event_id: str) -> str | None:
        if not account.delete_on_end:
            return None
        room = quote(account.room_id, safe="")
        txn = transaction_id(delivery_key, "redact")
        path = f"/rooms/{room}/redact/{quote(event_id, safe='')}/{txn}"
        answer = await self._call(account, "PUT", path, body={"reason": "end of alert"})
        return str(answer["event_id"])

    async def _whoami(self, account: MatrixAccount) -> str:
        return str((await self._call(account, "GET", "/account/whoami"))["user_id"])

    async def _state(
        self, account: MatrixAccount, room: str, event_type: str, state_key: str, whole_event: bool = False
    ) -> dict[str, Any] | None:
        """A state event's content (or the whole event); None when the room has no such state."""
        path = f"/rooms/{room}/state/{event_type}/{quote(state_key, safe='')}"
        params = {"format": "event"} if whole_event else None
        try:
            return await self._call(account, "GET", path, params=params)
        except _NotFound:
            return None

    async def _call(
        self,
        account: MatrixAccount,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One request; errors become TransientError / PermanentError with the server's reason.
        The token is sent in the Authorization header, never in the URL (URLs get logged)."""
        where = f"matrix account {account.name} ({account.homeserver})"
        headers = {"Authorization": f"Bearer {account.access_token()}"}
        try:
            response = await self.client.request(
                method, f"{account.homeserver}{_CLIENT}{path}", json=body, params=params, headers=headers
            )
        except httpx.TransportError as error:
            raise TransientError(f"{where}: {type(error).__name__}: {error}") from None
        if response.is_success:
            try:
                answer = response.json()
            except ValueError:  # a proxy's page, not the homeserver: it may pass
                raise TransientError(f"{where} answered {response.status_code} without JSON") from None
            return answer if isinstance(answer, dict) else {}
        errcode, message, retry_ms = _error_of(response)
        reason = f"{where} answered {response.status_code} {errcode}: {message}"
        if response.status_code == 429 or response.status_code >= 500:
            header = response.headers.get("Retry-After", "")
            retry_after = (
                retry_ms / 1000 if retry_ms is not None else (float(header) if header.isdigit() else None)
            )
            raise TransientError(reason, retry_after)
        if response.status_code == 401:
            raise PermanentError(
                f"{reason} (the access token was refused: renew it in {account.token_source()})"
            )
        if response.status_code == 404 and errcode == "M_NOT_FOUND":
            raise _NotFound(reason)
        raise PermanentError(reason)

    def _result(self, account: MatrixAccount, delivery_key: str, event_id: str, **details: Any) -> PostResult:
        return PostResult(
            post_id=event_id,
            url=permalink(account.room_id, event_id),
            details={"room_id": account.room_id, "txn_id": transaction_id(delivery_key), **details},
        )


class _NotFound(PermanentError):
    """A 404 M_NOT_FOUND: for state lookups it means "no such state", not a failure."""


def _event_id(previous: PostResult) -> str:
    if not previous.post_id:
        raise PermanentError("the alert's first Matrix message is unknown: nothing to edit or reply to")
    return previous.post_id


def _error_of(response: httpx.Response) -> tuple[str, str, float | None]:
    """(errcode, error, retry_after_ms) from a Matrix error body, tolerant of non-JSON bodies."""
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:200], None
    if not isinstance(body, dict):
        return "", str(body)[:200], None
    retry = body.get("retry_after_ms")
    return (
        str(body.get("errcode", "")),
        str(body.get("error", ""))[:200],
        float(retry) if isinstance(retry, int | float) else None,
    )


def _power(
    create: dict[str, Any], levels: dict[str, Any], user_id: str, event_type: str
) -> tuple[float, int]:
    """(the user's power level, the level needed to send `event_type`), as the spec computes them:
    from room version 12 the room's creators outrank everyone and are not listed in `users`;
    with no power_levels event, the creator has 100 and sending needs 0."""
    version = str(create.get("content", {}).get("room_version", "1"))
    creators = {create.get("sender"), *create.get("content", {}).get("additional_creators", [])}
    if version.isdigit() and int(version) >= 12 and user_id in creators:
        return float("inf"), 0
    if not levels:
        return (100 if user_id in creators else 0), 0
    users = levels.get("users", {})
    mine = int(users.get(user_id, levels.get("users_default", 0)))
    needed = int(levels.get("events", {}).get(event_type, levels.get("events_default", 0)))
    return mine, needed

"""A Telegram channel (or group) through the Bot API: one message per alert, edited as it changes.

One account = one chat (`chat_id`: `@channelusername` or the numeric id) posted to by one bot,
an administrator of the channel with the right to post. The bot token (from @BotFather) comes
from an environment variable or a secret file, read when needed. The Bot API puts it in the URL
path (`/bot<token>/<method>`), so: httpx's request log is redacted (`redact_http_logs`), and no
URL nor httpx message goes into an error unredacted.

- publish: `sendMessage` (JSON: `chat_id`, `text`, `link_preview_options`); the answer is the
  Message. Public URL `https://t.me/<username>/<message_id>` when the chat has a username
  (a private channel's `t.me/c/...` links open for members only: none is given).
- update: `editMessageText` of the alert's message, so the channel shows the current text; a
  retry answered "message is not modified" is a success. Where the edit is refused (`message
  can't be edited`, or `update_mode: reply`), a reply to the alert instead.
- end: a reply (`reply_parameters`, `allow_sending_without_reply`) with the end notice, in the
  channel where the alert was read; then with `delete_on_end`, `deleteMessage` of the alert.
  Telegram deletes only messages younger than 48 hours: an older alert stays, and the
  result says so (`details["not_deleted"]`) rather than failing an end that was posted.

Crash safety: a bot cannot read a channel's history (no Bot API method lists messages; updates
are only what arrives while the bot listens), so `find_existing` raises `LookupUnsupported`: the
delivery becomes `unknown` and a person decides, rather than a blind second post. No marker is
added to the text for the same reason: nothing could read it. Within one process, a retry of
`end` after its deletion failed does not post the notice again.

Errors (`{"ok": false, "error_code", "description", "parameters": {"retry_after"}}`): 401 →
"token revoked or invalid"; 429 → TransientError after `parameters.retry_after` seconds; 400
"message is too long" and other 4xx → PermanentError with Telegram's description; 5xx and
timeouts → TransientError (for `sendMessage`, a timeout may hide a message that was posted).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import httpx
from pydantic import Field, field_validator

from alertcast.channels.account import (
    Accounts,
    Steps,
    TokenAccount,
    error_text,
    https_unless_local,
    maybe_sent,
    merged,
    redact,
    redact_http_logs,
    text_of,
)
from alertcast.channels.base import AccountHealth, LookupUnsupported
from alertcast.delivery.retry import OutcomeUnknown, PermanentError, TransientError
from alertcast.models.alert import DeliveryRequest
from alertcast.models.post import PostResult
from alertcast.render.length import DEFAULT_LIMITS, count

LIMIT = DEFAULT_LIMITS["telegram"] or 4096


class TelegramAccount(TokenAccount):
    """One chat posted to by one bot (its token in `access_token_env` / `access_token_file`)."""

    channel = "telegram"

    chat_id: str = Field(pattern=r"^(@[A-Za-z][A-Za-z0-9_]{3,}|-?[0-9]+)$", description="@username or id")
    api_base: str = Field(default="https://api.telegram.org", description="a test server in tests")
    update_mode: Literal["edit", "reply"] = Field(
        default="edit", description="edit the alert's message, or reply to it"
    )
    link_preview: bool = Field(default=False, description="let Telegram show a preview of the link")

    @field_validator("api_base")
    @classmethod
    def _https(cls, value: str) -> str:
        return https_unless_local(value, "api_base")


def message_url(chat: dict[str, Any], message_id: int) -> str | None:
    username = chat.get("username")
    return f"https://t.me/{username}/{message_id}" if username else None


class TelegramChannel:
    id = "telegram"

    def __init__(self, accounts: Sequence[TelegramAccount], client: httpx.AsyncClient) -> None:
        self._accounts = Accounts("telegram", accounts)
        self.client = client
        self._steps = Steps()
        redact_http_logs()

    def accounts(self) -> list[str]:
        return list(self._accounts)

    def account(self, name: str) -> TelegramAccount:
        return self._accounts.named(name)

    # --- the lifecycle -------------------------------------------------------------------------

    async def publish(self, request: DeliveryRequest) -> PostResult:
        account = self._accounts.for_request(request)
        return await self._send(account, request)

    async def update(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        """An edit of the alert's message where Telegram allows it, else a reply to it."""
        account = self._accounts.for_request(request)
        message_id = _message_of(previous)
        if account.update_mode == "edit":
            body = {"chat_id": account.chat_id, "message_id": message_id, "text": self.fitted(request)}
            try:
                message = await self._call(account, "editMessageText", {**body, **self._preview(account)})
            except _Unchanged:  # the same edit, retried: done already
                details = {"chat_id": previous.details.get("chat_id"), "root_id": message_id, "edited": True}
                return PostResult(post_id=str(message_id), url=previous.url, details=details)
            except _NotEditable:
                pass  # too old, or not the bot's: say it in the thread instead
            else:
                return _result(message, root=message_id, edited=True)
        return await self._send(account, request, reply_to=message_id)

    async def end(self, request: DeliveryRequest, previous: PostResult) -> PostResult:
        """The end notice as a reply to the alert; then the alert deleted if asked (48 h at most)."""
        account = self._accounts.for_request(request)
        message_id = _message_of(previous)
        notice = await self._send(account, request, reply_to=message_id)
        if not account.delete_on_end:
            return notice
        try:
            await self._call(account, "deleteMessage", {"chat_id": account.chat_id, "message_id": message_id})
        except _Gone:
            pass  # deleted by hand, or by the interrupted attempt
        except _NotDeletable as refused:
            return merged(notice, deleted=[], not_deleted=str(refused))
        return merged(notice, deleted=[message_id])

    async def find_existing(self, request: DeliveryRequest) -> PostResult | None:
        raise LookupUnsupported(
            f"telegram account {request.account}: a bot cannot read the history of {self._chat(request)}; "
            "a person checks the channel and says whether the message was posted"
        )

    async def check(self, account: str) -> AccountHealth:
        """Token valid (`getMe`), the chat reachable (`getChat`), the bot allowed to post there
        (`getChatMember`: an administrator with `can_post_messages` in a channel); never posts."""
        health = AccountHealth(channel=self.id, account=account, ok=False, limit=LIMIT)
        try:
            config = self.account(account)
            me = await self._call(config, "getMe", {})
            chat = await self._call(config, "getChat", {"chat_id": config.chat_id})
            member = await self._call(
                config, "getChatMember", {"chat_id": config.chat_id, "user_id": me["id"]}
            )
        except (TransientError, PermanentError) as error:
            return health.model_copy(update={"problem": str(error)})
        problem = _cannot_post(chat, member)
        if problem is not None:
            bot = f"@{me.get('username')}" if me.get("username") else "the bot"
            return health.model_copy(update={"can_post": False, "problem": f"{bot} {problem}"})
        return health.model_copy(update={"ok": True, "can_post": True})

    async def aclose(self) -> None:
        await self.client.aclose()

    async def bot_api(self, account: TelegramAccount, method: str, body: dict[str, Any]) -> Any:
        """One Bot API call for the reader of replies (alertcast.channels.telegram_replies)."""
        return await self._call(account, method, body)

    # --- steps ---------------------------------------------------------------------------------

    def fitted(self, request: DeliveryRequest) -> str:
        text = text_of(request)
        length = count("telegram", text)
        if not length.fits:
            raise PermanentError(
                f"telegram account {request.account}: the text is {length.length} UTF-16 units; "
                f"Telegram allows {LIMIT}"
            )
        return text

    def _preview(self, account: TelegramAccount) -> dict[str, Any]:
        return {"link_preview_options": {"is_disabled": not account.link_preview}}

    async def _send(
        self, account: TelegramAccount, request: DeliveryRequest, reply_to: int | None = None
    ) -> PostResult:
        """One message, once per process: a retry after the step that followed it returns it."""
        key = request.delivery_key
        if (done := self._steps.get(key, "send")) is not None:
            return done
        body: dict[str, Any] = {
            "chat_id": account.chat_id,
            "text": self.fitted(request),
            **self._preview(account),
        }
        if reply_to is not None:
            body["reply_parameters"] = {"message_id": reply_to, "allow_sending_without_reply": True}
        message = await self._call(account, "sendMessage", body)
        result = _result(message, root=reply_to or int(message["message_id"]), in_reply_to=reply_to)
        return self._steps.put(key, "send", result)

    def _chat(self, request: DeliveryRequest) -> str:
        account = self._accounts.get(request.account)
        return account.chat_id if account else "the chat"

    # --- the Bot API ---------------------------------------------------------------------------

    async def _call(self, account: TelegramAccount, method: str, body: dict[str, Any]) -> Any:
        """One Bot API call (JSON); the `result`, or an error naming the method, never the URL."""
        where = f"telegram account {account.name} ({method})"
        token = account.access_token()
        try:
            response = await self.client.post(f"{account.api_base}/bot{token}/{method}", json=body)
        except httpx.TransportError as error:
            if method == "sendMessage" and maybe_sent(error):
                raise OutcomeUnknown(
                    f"{where}: no answer after sending ({error_text(error, token)}); the message may be "
                    "in the chat and Telegram cannot be asked: look at the chat, then settle the delivery"
                ) from None
            raise TransientError(f"{where}: {error_text(error, token)}") from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            if response.status_code >= 500 or response.is_success:
                raise TransientError(f"{where}: Telegram answered {response.status_code} without JSON")
            raise PermanentError(f"{where}: Telegram answered {response.status_code}")
        if answer.get("ok") is True:
            return answer.get("result")
        code = int(answer.get("error_code") or response.status_code)
        description = redact(str(answer.get("description", "")).replace(token, "<redacted>"))[:300]
        given = answer.get("parameters")
        parameters: dict[str, Any] = given if isinstance(given, dict) else {}
        reason = f"Telegram answered {code}: {description}"
        lowered = description.lower()
        if code == 429:
            retry = parameters.get("retry_after")
            raise TransientError(
                f"{where}: {reason}", float(retry) if isinstance(retry, int | float) else None
            )
        if code >= 500:
            raise TransientError(f"{where}: {reason}")
        if code == 401:
            raise account.revoked(reason)
        if "migrate_to_chat_id" in parameters:
            raise PermanentError(
                f"{where}: {reason}; the group became supergroup {parameters['migrate_to_chat_id']}: "
                "set that as chat_id"
            )
        if "message is not modified" in lowered:
            raise _Unchanged(f"{where}: {reason}")
        if "message can't be edited" in lowered or "message to edit not found" in lowered:
            raise _NotEditable(f"{where}: {reason}")
        if "message to delete not found" in lowered:
            raise _Gone(f"{where}: {reason}")
        if "message can't be deleted" in lowered:
            raise _NotDeletable(f"{where}: {reason}")
        raise PermanentError(f"{where}: {reason}")


class _Unchanged(PermanentError):
    pass


class _NotEditable(PermanentError):
    pass


class _Gone(PermanentError):
    pass


class _NotDeletable(PermanentError):
    pass


def _cannot_post(chat: dict[str, Any], member: dict[str, Any]) -> str | None:
    """Why the bot cannot post in `chat`, from its ChatMember; None when it can."""
    status = member.get("status")
    title = chat.get("title") or chat.get("username") or chat.get("id")
    if status == "creator":
        return None
    if chat.get("type") == "channel":
        if status != "administrator":
            return f"is {status or 'not a member'} in channel {title!r}: make it an administrator"
        if not member.get("can_post_messages"):
            return f"is an administrator of channel {title!r} without the right to post messages"
        return None
    if status in ("left", "kicked") or (status == "restricted" and not member.get("can_send_messages")):
        return f"cannot send messages in {title!r} (status: {status})"
    return None


def _result(message: dict[str, Any], root: int, **details: Any) -> PostResult:
    message_id = int(message["message_id"])
    chat = message.get("chat", {})
    return PostResult(
        post_id=str(message_id),
        url=message_url(chat, message_id),
        details={"chat_id": chat.get("id"), "root_id": root, **details},
    )


def _message_of(previous: PostResult) -> int:
    root = previous.details.get("root_id") or previous.post_id
    if root is None or not str(root).lstrip("-").isdigit():
        raise PermanentError("the alert's Telegram message is unknown: nothing to edit or reply to")
    return int(root)

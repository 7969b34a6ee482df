"""A small Telegram Bot API server written from the Bot API documentation (core.telegram.org/bots/api).

Requests: `GET` or `POST https://api.telegram.org/bot<token>/<METHOD_NAME>`, parameters in the
query string, as `application/x-www-form-urlencoded`, `multipart/form-data` (object parameters
JSON-serialised) or `application/json`; method names are case-insensitive. Answers:
`{"ok": true, "result": ...}` or `{"ok": false, "error_code", "description", "parameters"?}`.

Methods: `getMe`, `getChat`, `getChatMember`, `sendMessage` (`chat_id` as id or `@username`,
`text` 1..4096 UTF-16 units, `reply_parameters`, `link_preview_options`), `editMessageText`,
`deleteMessage`, `getUpdates` (`offset`, `limit` 1..100, `timeout`, `allowed_updates`: an
update is confirmed, and dropped, once getUpdates is called with a higher offset; a negative
offset takes the last -offset updates and forgets the others; refused with 409 "Conflict: can't
use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
while `TelegramState.webhooks` holds the bot's token).

Discussion groups (`add_group(title, linked_to=channel)`): each post in a linked channel is
copied into the group as an automatic forward (`is_automatic_forward`, `forward_origin` of type
`channel`, `sender_chat` the channel, `from` Telegram's service user 777000), and every message
of the group becomes an Update of each bot that is a member of it. `comment(channel, post,
user, text)` writes a citizen's comment (a reply to the forward, in its `message_thread_id`),
`answer_comment(group, comment, user, text)` an answer to a comment; `add_user` makes a citizen.

A channel accepts posts from its creator and from administrators with `can_post_messages`; a
Message from a channel has `sender_chat` and `chat` (with `username` when public).
Refusals, with Telegram's descriptions: unknown token → 401 "Unauthorized"; unknown
method → 404 "Not Found"; "Bad Request: chat not found", "Bad Request: message text is empty",
"Bad Request: message is too long", "Bad Request: message to be replied not found",
"Bad Request: message is not modified: ...", "Bad Request: message to edit not found",
"Bad Request: message to delete not found", "Bad Request: message can't be deleted" (older
than 48 hours: `age(message_id, hours)` ages one), "Bad Request: need administrator rights in
the channel chat".

Switches on `TelegramState`: `revoke(token)`; `rate_limited` requests answered 429
"Too Many Requests: retry after N" with `parameters.retry_after` = `retry_after_s`;
`unavailable` requests answered 502 by the front proxy (an HTML page, as Telegram's nginx does);
`slow` requests processed and then answered after `slow_s` seconds; `hold_posts`: a sent message
is stored, then its answer waits while the switch stays on (a worker killed in that window posted
without learning it; the fault tests use it).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from alertcast.render.length import utf16_units
from servers.asgi import ThreadedServer

LIMIT = 4096
_OBJECTS = {"reply_parameters", "link_preview_options", "reply_markup", "entities", "allowed_updates"}


def refusal(code: int, description: str, **parameters: Any) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return JSONResponse(body, code)


def ok(result: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


class TelegramError(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


@dataclass
class TelegramState:
    rate_limited: int = 0
    retry_after_s: int = 7
    unavailable: int = 0
    slow: int = 0
    slow_s: float = 1.0
    hold_posts: bool = False
    bots: dict[str, dict[str, Any]] = field(default_factory=dict)  # token -> User
    revoked: set[str] = field(default_factory=set)
    chats: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> Chat
    members: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)  # (chat, user) -> ChatMember
    messages: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)  # chat -> id -> Message
    linked: dict[int, int] = field(default_factory=dict)  # channel -> its discussion group
    forwards: dict[tuple[int, int], int] = field(default_factory=dict)  # (channel, post) -> id in group
    updates: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # bot id -> its Updates
    webhooks: set[str] = field(default_factory=set)  # tokens of bots with a webhook set
    requests: list[tuple[str, str]] = field(default_factory=list)  # (HTTP method, Bot API method)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(7_000_000_001))

    def add_bot(self, username: str) -> tuple[int, str]:
        """(bot user id, token as BotFather gives it: `<id>:<35 characters>`)."""
        with self.lock:
            bot_id = next(self._ids)
            token = f"{bot_id}:AA{secrets.token_urlsafe(26)[:33]}"
            self.bots[token] = {
                "id": bot_id,
                "is_bot": True,
                "first_name": username.title(),
                "username": username,
            }
        return bot_id, token

    def add_channel(self, title: str, username: str | None = None) -> int:
        with self.lock:
            chat_id = -1_000_000_000_000 - next(self._ids)
            chat: dict[str, Any] = {"id": chat_id, "type": "channel", "title": title}
            if username:
                chat["username"] = username
            self.chats[chat_id] = chat
            self.messages[chat_id] = {}
        return chat_id

    def set_member(self, chat_id: int, bot_id: int, status: str, **rights: bool) -> None:
        with self.lock:
            user = next(bot for bot in self.bots.values() if bot["id"] == bot_id)
            self.members[(chat_id, bot_id)] = {"status": status, "user": user, **rights}

    def revoke(self, token: str) -> None:
        with self.lock:
            self.revoked.add(token)

    def add_user(self, first_name: str, username: str | None = None) -> dict[str, Any]:
        with self.lock:
            user: dict[str, Any] = {"id": next(self._ids), "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        return user

    def add_group(self, title: str, linked_to: int | None = None) -> int:
        """A supergroup; with `linked_to`, that channel's discussion group."""
        with self.lock:
            chat_id = -1_000_000_000_000 - next(self._ids)
            self.chats[chat_id] = {"id": chat_id, "type": "supergroup", "title": title}
            self.messages[chat_id] = {}
            if linked_to is not None:
                self.linked[linked_to] = chat_id
        return chat_id

    def comment(self, channel_id: int, post_id: int, user: dict[str, Any], text: str) -> int:
        """A citizen's comment under a channel post: a reply to its forward in the group."""
        with self.lock:
            group = self.linked[channel_id]
            forward_id = self.forwards[(channel_id, post_id)]
            forward = self.messages[group][forward_id]
            return self._group_message(group, user, text, forward, thread=forward_id)

    def answer_comment(self, group: int, comment_id: int, user: dict[str, Any], text: str) -> int:
        with self.lock:
            parent = self.messages[group][comment_id]
            return self._group_message(group, user, text, parent, thread=parent.get("message_thread_id"))

    def _group_message(
        self, group: int, user: dict[str, Any], text: str, parent: dict[str, Any], thread: int | None
    ) -> int:
        """(Under the lock.) A message in a group, delivered as an Update to its member bots."""
        messages = self.messages[group]
        message_id = max(messages, default=0) + 1
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": user,
            "chat": self.chats[group],
            "date": int(time.time()),
            "text": text,
            "reply_to_message": {key: value for key, value in parent.items() if key != "reply_to_message"},
        }
        if thread is not None:
            message["message_thread_id"] = thread
        messages[message_id] = message
        self._deliver(group, message)
        return message_id

    def _forward(self, channel: dict[str, Any], post: dict[str, Any]) -> None:
        """(Under the lock.) Telegram's automatic forward of a channel post into its group."""
        group = self.linked.get(channel["id"])
        if group is None:
            return
        messages = self.messages[group]
        forward_id = max(messages, default=0) + 1
        forward = {
            "message_id": forward_id,
            "from": {"id": 777000, "is_bot": False, "first_name": "Telegram"},
            "sender_chat": channel,
            "chat": self.chats[group],
            "date": post["date"],
            "text": post["text"],
            "is_automatic_forward": True,
            "forward_origin": {
                "type": "channel",
                "chat": channel,
                "message_id": post["message_id"],
                "date": post["date"],
            },
        }
        messages[forward_id] = forward
        self.forwards[(channel["id"], post["message_id"])] = forward_id
        self._deliver(group, forward)

    def _deliver(self, group: int, message: dict[str, Any]) -> None:
        """(Under the lock.) An Update for each bot member of the group."""
        for (chat_id, bot_id), member in self.members.items():
            if chat_id == group and member["status"] in ("creator", "administrator", "member"):
                queue = self.updates.setdefault(bot_id, [])
                update_id = (queue[-1]["update_id"] + 1) if queue else 500_000_001
                queue.append({"update_id": update_id, "message": dict(message)})

    def pending(self, bot_id: int) -> int:
        """Updates Telegram still holds for the bot (not confirmed)."""
        with self.lock:
            return len(self.updates.get(bot_id, []))

    def age(self, chat_id: int, message_id: int, hours: float) -> None:
        with self.lock:
            self.messages[chat_id][message_id]["date"] -= int(hours * 3600)

    def messages_in(self, chat_id: int) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(message) for message in self.messages[chat_id].values()]

    def sends(self) -> int:
        with self.lock:
            return sum(1 for _, method in self.requests if method == "sendmessage")


class TelegramApp:
    def __init__(self, state: TelegramState) -> None:
        self.state = state
        self.app = Starlette(routes=[Route("/bot{token}/{method}", self.call, methods=["GET", "POST"])])
        self.methods = {
            "getme": self.get_me,
            "getchat": self.get_chat,
            "getchatmember": self.get_chat_member,
            "sendmessage": self.send_message,
            "editmessagetext": self.edit_message_text,
            "deletemessage": self.delete_message,
            "getupdates": self.get_updates,
        }

    async def _parameters(self, request: Request) -> dict[str, Any]:
        parameters: dict[str, Any] = dict(request.query_params)
        kind = request.headers.get("content-type", "")
        if request.method == "POST" and kind.startswith("application/json"):
            body = await request.json()
            parameters.update(body if isinstance(body, dict) else {})
        elif request.method == "POST" and kind:
            form = await request.form()
            parameters.update({key: value for key, value in form.items() if isinstance(value, str)})
        for key in _OBJECTS & parameters.keys():  # object parameters arrive JSON-serialised in forms
            if isinstance(parameters[key], str):
                parameters[key] = json.loads(parameters[key])
        return parameters

    async def call(self, request: Request) -> Response:
        state = self.state
        method = request.path_params["method"].lower()
        with state.lock:
            state.requests.append((request.method, method))
            if state.unavailable > 0:
                state.unavailable -= 1
                return HTMLResponse("<html><body><h1>502 Bad Gateway</h1></body></html>", 502)
            if state.rate_limited > 0:
                state.rate_limited -= 1
                seconds = state.retry_after_s
                return refusal(429, f"Too Many Requests: retry after {seconds}", retry_after=seconds)
            slow = state.slow > 0
            state.slow -= 1 if slow else 0
            token = request.path_params["token"]
            bot = state.bots.get(token) if token not in state.revoked else None
        if bot is None:
            return refusal(401, "Unauthorized")
        handler = self.methods.get(method)
        if handler is None:
            return refusal(404, "Not Found")
        if method == "getupdates" and token in state.webhooks:
            return refusal(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        parameters = await self._parameters(request)
        try:
            with state.lock:
                result = handler(bot, parameters)
        except TelegramError as error:
            answer: Response = refusal(error.code, error.description)
        else:
            answer = ok(result)
        if slow:
            await asyncio.sleep(state.slow_s)
        # Stored, not yet answered (the switch is flipped from the test's thread: a poll).
        while method == "sendmessage" and state.hold_posts:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return answer

    # --- methods (called with the state's lock held) --------------------------------------------

    def _chat(self, parameters: dict[str, Any]) -> dict[str, Any]:
        wanted = str(parameters.get("chat_id", ""))
        for chat in self.state.chats.values():
            if wanted == str(chat["id"]) or (chat.get("username") and wanted == f"@{chat['username']}"):
                return chat
        raise TelegramError(400, "Bad Request: chat not found")

    def _member(self, chat: dict[str, Any], bot: dict[str, Any]) -> dict[str, Any]:
        return self.state.members.get((chat["id"], bot["id"]), {"status": "left", "user": bot})

    def _may_post(self, chat: dict[str, Any], bot: dict[str, Any]) -> None:
        member = self._member(chat, bot)
        if member["status"] == "creator":
            return
        if member["status"] != "administrator":
            raise TelegramError(403, "Forbidden: bot is not a member of the channel chat")
        if not member.get("can_post_messages"):
            raise TelegramError(400, "Bad Request: need administrator rights in the channel chat")

    @staticmethod
    def _text(parameters: dict[str, Any]) -> str:
        text = str(parameters.get("text", ""))
        if not text.strip():
            raise TelegramError(400, "Bad Request: message text is empty")
        if utf16_units(text) > LIMIT:
            raise TelegramError(400, "Bad Request: message is too long")
        return text

    def _message(self, chat: dict[str, Any], parameters: dict[str, Any], verb: str) -> dict[str, Any]:
        message_id = int(parameters.get("message_id", 0))
        message = self.state.messages[chat["id"]].get(message_id)
        if message is None:
            raise TelegramError(400, f"Bad Request: message to {verb} not found")
        return message

    def get_me(self, bot: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        return {**bot, "can_join_groups": True, "can_read_all_group_messages": False}

    def get_chat(self, bot: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(parameters)
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11}

    def get_chat_member(self, bot: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(parameters)
        user_id = int(parameters.get("user_id", 0))
        if user_id != bot["id"]:
            raise TelegramError(400, "Bad Request: user not found")
        return self._member(chat, bot)

    def send_message(self, bot: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(parameters)
        self._may_post(chat, bot)
        text = self._text(parameters)
        messages = self.state.messages[chat["id"]]
        reply = parameters.get("reply_parameters") or {}
        parent = messages.get(int(reply.get("message_id", 0))) if reply else None
        if reply and parent is None and not reply.get("allow_sending_without_reply"):
            raise TelegramError(400, "Bad Request: message to be replied not found")
        message_id = max(messages, default=0) + 1
        message: dict[str, Any] = {
            "message_id": message_id,
            "sender_chat": chat,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
            "link_preview_options": parameters.get("link_preview_options") or {},
        }
        if parent is not None:
            message["reply_to_message"] = {
                key: value for key, value in parent.items() if key != "reply_to_message"
            }
        messages[message_id] = message
        if chat["type"] == "channel":
            self.state._forward(chat, message)  # a bot gets no update of its own messages
        return message

    def get_updates(self, bot: dict[str, Any], parameters: dict[str, Any]) -> list[dict[str, Any]]:
        limit = int(parameters.get("limit", 100))
        if not 1 <= limit <= 100:
            raise TelegramError(400, "Bad Request: limit must be between 1 and 100")
        queue = self.state.updates.setdefault(bot["id"], [])
        if "offset" in parameters:
            offset = int(parameters["offset"])
            if offset < 0:
                del queue[: max(len(queue) + offset, 0)]
            else:
                queue[:] = [update for update in queue if update["update_id"] >= offset]  # confirmed
        kinds = parameters.get("allowed_updates") or ["message"]
        return [dict(u) for u in queue if any(kind in u for kind in kinds)][:limit]

    def edit_message_text(self, bot: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(parameters)
        self._may_post(chat, bot)
        message = self._message(chat, parameters, "edit")
        text = self._text(parameters)
        if text == message["text"]:
            raise TelegramError(
                400,
                "Bad Request: message is not modified: specified new message content and reply markup "
                "are exactly the same as a current content and reply markup of the message",
            )
        message.update(text=text, edit_date=int(time.time()))
        return message

    def delete_message(self, bot: dict[str, Any], parameters: dict[str, Any]) -> bool:
        chat = self._chat(parameters)
        self._may_post(chat, bot)
        message = self._message(chat, parameters, "delete")
        if time.time() - message["date"] >= 48 * 3600:
            raise TelegramError(400, "Bad Request: message can't be deleted")
        del self.state.messages[chat["id"]][message["message_id"]]
        return True


class TelegramServer(ThreadedServer):
    def __init__(self) -> None:
        self.state = TelegramState()
        super().__init__(TelegramApp(self.state).app)

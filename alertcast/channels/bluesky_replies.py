"""Citizens' replies and mentions on Bluesky, read from the firehose: the Bluesky channel's
reading half (issue 19). Frame decoding and the post -> Reply part are pure and live in
`bluesky_reply_parsing`; this module holds the WebSocket.

Why the firehose. Bluesky's notifications (`app.bsky.notification.listNotifications`) are
served by an AppView, which a lone PDS proxies but cannot answer. Every PDS serves the event
stream of its own repositories (`com.atproto.sync.subscribeRepos`), the source relays and
Jetstream consume; there a citizen's reply is a new `app.bsky.feed.post` record whose
`reply.parent` (or `reply.root`) is our post. Against our own PDS this sees the replies of
accounts hosted there (what the tests do, with the reference PDS); in production, where
citizens are on other PDSes, point `service` at a relay (e.g. wss://bsky.network): the same
protocol, for the whole network, so a read decodes many frames to keep a few. Jetstream (JSON,
filtered by collection server-side) would be the lighter production source; it is not read here.

One read: connect from the cursor, take frames until caught up, return the replies and the new
cursor. "Caught up" is the stream going quiet for `idle_s`; a busy relay never is, so a read
also ends after `max_frames` frames or `max_s` seconds and the poller calls again at once. The
cursor (`FirehoseCursor`) is the last sequence number seen; the caller persists it in Kafka
after producing the replies: a crash in between reads them again with the same ids, and nothing
is lost. Sequence numbers belong to one service: a cursor is refused for another. A first read
(no cursor) starts at 0, the oldest event the service still keeps (a PDS keeps days; a relay
fewer): pass a cursor to start elsewhere.

Failures. A connection that cannot be made, a 5xx or 429 at the upgrade, a stream cut before
anything was read, or the server's `ConsumerTooSlow`: TransientError. A refused upgrade (4xx) or
`FutureCursor` (the cursor is ahead of the service: it was reset or replaced; a person decides
whether to read it again from 0): PermanentError. Once frames were read, a cut stream ends the
read with what it has. An `OutdatedCursor` notice (events older than the service keeps were
lost) and frames that cannot be decoded are logged, never fatal.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus, WebSocketException

from alertcast.channels.account import https_unless_local
from alertcast.channels.bluesky_reply_parsing import (
    AlertOf,
    ConversationOf,
    FirehoseCursor,
    Frame,
    decode_frame,
    to_reply,
)
from alertcast.delivery.retry import PermanentError, TransientError
from alertcast.errors import ServiceError
from alertcast.http import USER_AGENT, make_client
from alertcast.replies.model import Reply

log = logging.getLogger(__name__)

SUBSCRIBE = "com.atproto.sync.subscribeRepos"
#: A commit's blocks are limited to about 2 MB by the protocol; a little room above it.
MAX_FRAME = 4 * 1024 * 1024


def no_alert(_uri: str) -> str | None:
    return None


async def read_replies_firehose(
    pds_url: str,
    our_did: str,
    cursor: FirehoseCursor | None,
    *,
    alert_of: AlertOf = no_alert,
    conversation_of: ConversationOf = no_alert,
    client: httpx.AsyncClient | None = None,
    idle_s: float = 1.0,
    max_s: float = 30.0,
    max_frames: int = 50_000,
    web_url: str = "https://bsky.app",
) -> tuple[list[Reply], FirehoseCursor]:
    """The replies to our posts and the mentions of `our_did` sequenced after `cursor`, in
    order, and the cursor to persist once they are produced.

    `alert_of` maps one of our post URIs to its alert (from the delivery receipts);
    `conversation_of` gives the conversation of a reply already received (so a citizen
    answering inside a sub-thread stays in it). Authors' handles come from the stream's
    `#identity` frames, else `com.atproto.repo.describeRepo` on `pds_url` (with `client`),
    else the DID is shown."""
    service = https_unless_local(pds_url, "pds_url")
    start = cursor or FirehoseCursor(service=service)
    if start.service.rstrip("/") != service:
        raise ValueError(f"the cursor counts {start.service}'s events, not {service}'s")
    reader = _Firehose(service, our_did, alert_of, conversation_of, web_url)
    await reader.read(start.seq or 0, idle_s, max_s, max_frames)
    http = client or make_client()
    try:
        replies = [await reader.with_handle(http, reply) for reply in reader.replies]
    finally:
        if client is None:
            await http.aclose()
    return replies, start.model_copy(update={"seq": reader.seq})


def stream_url(service: str, seq: int) -> str:
    parts = urlsplit(service)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}/xrpc/{SUBSCRIBE}?cursor={seq}"


class _Firehose:
    def __init__(
        self, service: str, our_did: str, alert_of: AlertOf, conversation_of: ConversationOf, web_url: str
    ) -> None:
        self.service = service
        self.our_did = our_did
        self.alert_of = alert_of
        self.conversation_of = conversation_of
        self.web_url = web_url
        self.replies: list[Reply] = []
        self.handles: dict[str, str] = {}
        self.conversations: dict[str, str] = {}  # this read's replies: URI -> conversation
        self.seq: int | None = None
        self.progressed = False  # a frame with a sequence number was taken
        self.where = f"the firehose of {service}"

    async def read(self, since: int, idle_s: float, max_s: float, max_frames: int) -> None:
        self.seq = since if since > 0 else None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_s
        try:
            async with connect(
                stream_url(self.service, since),
                user_agent_header=USER_AGENT,
                open_timeout=10,
                close_timeout=2,
                max_size=MAX_FRAME,
            ) as stream:
                for _ in range(max_frames):
                    wait = min(idle_s, deadline - loop.time())
                    if wait <= 0:
                        return
                    try:
                        data = await asyncio.wait_for(stream.recv(), wait)
                    except TimeoutError:
                        return  # quiet: caught up
                    if isinstance(data, bytes):
                        self._take(data)
        except _Cut as cut:
            log.warning("%s: cut after event %s, the rest next time: %s", self.where, self.seq, cut)
        except InvalidStatus as error:
            status = error.response.status_code
            reason = f"{self.where} refused the subscription: HTTP {status}"
            raise (
                TransientError(reason) if status == 429 or status >= 500 else PermanentError(reason)
            ) from None
        except (OSError, TimeoutError, WebSocketException) as error:
            if self.progressed:
                log.warning("%s: cut after event %s, the rest next time: %s", self.where, self.seq, error)
                return
            raise TransientError(f"{self.where}: {type(error).__name__}: {error}") from None

    def _take(self, data: bytes) -> None:
        try:
            frame = decode_frame(data)
        except (ValueError, KeyError, TypeError, RecursionError) as error:
            log.warning("%s: a frame after event %s not understood, skipped: %s", self.where, self.seq, error)
            return
        if frame.kind == "error":
            self._fail(frame)
        if frame.kind == "#info":
            log.warning("%s: %s %s", self.where, frame.error, frame.message)
        if frame.handle is not None:
            self.handles[frame.handle[0]] = frame.handle[1]
        for post in frame.posts:
            try:
                reply = to_reply(
                    post, self.our_did, self.alert_of, self._conversation_of, web_url=self.web_url
                )
            except ValueError as error:  # a record the Reply model refuses: logged, never fatal
                log.warning("%s: %s skipped: %s", self.where, post.uri, error)
                continue
            if reply is not None:
                self.replies.append(reply)
                self.conversations[post.uri] = reply.conversation
        if frame.seq is not None:
            self.seq, self.progressed = frame.seq, True

    def _fail(self, frame: Frame) -> None:
        reason = f"{self.where} answered {frame.error}: {frame.message}"
        if frame.error == "FutureCursor":
            raise PermanentError(
                f"{reason} (cursor {self.seq}: the service was reset or replaced; "
                "read it again from 0 only if that is right)"
            )
        if self.progressed and frame.error == "ConsumerTooSlow":
            raise _Cut(reason)
        raise TransientError(reason)

    def _conversation_of(self, uri: str) -> str | None:
        return self.conversations.get(uri) or self.conversation_of(uri)

    async def with_handle(self, client: httpx.AsyncClient, reply: Reply) -> Reply:
        """The reply with its author's handle, when the stream or the service tells it."""
        did = reply.author
        if did not in self.handles:
            self.handles[did] = await self._describe(client, did) or did
        return reply.model_copy(update={"author": self.handles[did]})

    async def _describe(self, client: httpx.AsyncClient, did: str) -> str | None:
        """The handle `describeRepo` gives for a repo of this service, when it checked it."""
        try:
            answer = await client.get(
                f"{self.service}/xrpc/com.atproto.repo.describeRepo", params={"repo": did}
            )
            body = answer.json() if answer.is_success else {}
        except (httpx.HTTPError, ValueError):
            return None
        handle = body.get("handle") if isinstance(body, dict) else None
        return handle if isinstance(handle, str) and body.get("handleIsCorrect") is not False else None


class _Cut(ServiceError):
    """The service dropped us mid-read (ConsumerTooSlow): keep what was read, continue next time."""

"""One frame of the AT Protocol firehose (`com.atproto.sync.subscribeRepos`), and a post in it
turned into the `Reply` every network's reader hands over.

Pure (no socket, no clock) so the protocol's shapes are tested in milliseconds;
`bluesky_replies` holds the WebSocket and calls these functions.

A frame is two DAG-CBOR objects back to back: a header (`op` 1 and the message type `t`, or
`op` -1 for an error) and the body. A `#commit` body lists its `ops` (action, path
`collection/rkey`, the record's CID) and carries the changed blocks as a CAR file; a created
post is the block whose CID the op names. Decoding is libipld's (DAG-CBOR and CAR, in Rust, by
the author of the `atproto` SDK), the one piece of that SDK this needs.

What a post becomes, and why:
- kept: a post whose `reply.parent` or `reply.root` is one of our posts (its URI is in our
  repo, `at://<our DID>/...`), and a post whose facets mention our DID (kept with no alert when
  it is not under our post); our own posts (updates are replies in our threads) never are.
- id: `bluesky:<at:// URI>` (unique across the network, the same at every read).
- author: the handle when known (an `#identity` frame, or the caller's lookup), else the DID.
- text: the record's text, without control and bidi-override characters.
- url: `https://bsky.app/profile/<DID>/post/<rkey>` (the DID, which a handle change does not break).
- at: the record's `createdAt`, unless unreadable or more than 10 minutes away from the time the
  PDS sequenced it (a wrong clock, an imported or backdated post): then that time, so the
  72-hour circuit starts when the reply could be read.
- alert: our parent post's alert, else our root post's (`alert_of`, from the delivery receipts).
- in_reply_to: the parent post's URI.
- conversation: one citizen's thread under our post: the reply itself when it answers our post,
  else the conversation of the post it answers (`conversation_of`: the caller's replies, or
  earlier ones of the same read), else that post's URI.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import libipld
from pydantic import BaseModel, ConfigDict, Field

from alertcast.replies.model import Reply, reply_id

log = logging.getLogger(__name__)

POST = "app.bsky.feed.post"
MENTION = "app.bsky.richtext.facet#mention"
TEXT_LIMIT = 20_000
CLOCK_SKEW = timedelta(minutes=10)
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

AlertOf = Callable[[str], str | None]
ConversationOf = Callable[[str], str | None]


class FirehoseCursor(BaseModel):
    """How far one service's firehose was read. Persisted by the caller, keyed by `service`:
    sequence numbers belong to the PDS or relay that gave them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str = Field(min_length=1, description="the PDS or relay (http(s) URL) the seq numbers are from")
    seq: int | None = Field(default=None, ge=0, description="the last event read; None: never read")


@dataclass(frozen=True)
class Created:
    """A post created in a commit, with the time the service sequenced it."""

    repo: str
    rkey: str
    record: dict[str, Any]
    time: datetime | None

    @property
    def uri(self) -> str:
        return f"at://{self.repo}/{POST}/{self.rkey}"


@dataclass(frozen=True)
class Frame:
    kind: str  #: "#commit", "#identity", "#account", "#sync", "#info", or "error"
    seq: int | None = None
    posts: list[Created] = field(default_factory=list)
    handle: tuple[str, str] | None = None  #: (DID, handle) of an #identity frame
    error: str | None = None  #: an error frame's name (FutureCursor, ConsumerTooSlow...)
    message: str = ""


def decode_frame(data: bytes) -> Frame:
    """One binary WebSocket message. Raises ValueError when it is not a frame."""
    parts = libipld.decode_dag_cbor_multi(data)
    if len(parts) != 2 or not all(isinstance(part, dict) for part in parts):
        raise ValueError("a frame is a header and a body, both maps")
    header, body = parts
    if header.get("op") == -1:
        return Frame("error", error=str(body.get("error", "")), message=str(body.get("message", "")))
    kind = str(header.get("t", ""))
    seq = body.get("seq") if isinstance(body.get("seq"), int) else None
    if kind == "#identity" and isinstance(body.get("handle"), str):
        return Frame(kind, seq, handle=(str(body.get("did")), body["handle"]))
    if kind == "#info":
        return Frame(kind, seq, error=str(body.get("name", "")), message=str(body.get("message", "")))
    if kind != "#commit":
        return Frame(kind, seq)
    return Frame(kind, seq, posts=_created_posts(body))


def _created_posts(body: dict[str, Any]) -> list[Created]:
    """The posts a commit creates; the CAR is decoded only when it creates one."""
    ops = [
        op
        for op in body.get("ops") or []
        if isinstance(op, dict)
        and op.get("action") == "create"
        and str(op.get("path", "")).startswith(POST + "/")
    ]
    if not ops:
        return []
    repo = str(body.get("repo", ""))
    _, blocks = libipld.decode_car(body.get("blocks") or b"")
    when = parse_time(body.get("time"))
    posts = []
    for op in ops:
        record = blocks.get(op.get("cid") or b"")
        rkey = str(op["path"]).split("/", 1)[1]
        if not isinstance(record, dict):  # a `tooBig` commit, or a broken one
            log.warning("at://%s/%s/%s: the record is not in the commit's blocks", repo, POST, rkey)
            continue
        posts.append(Created(repo, rkey, record, when))
    return posts


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def is_ours(uri: object, our_did: str) -> bool:
    return isinstance(uri, str) and uri.startswith(f"at://{our_did}/")


def mentions(record: dict[str, Any], did: str) -> bool:
    """The post's facets mention `did`."""
    for facet in record.get("facets") or []:
        features = facet.get("features") if isinstance(facet, dict) else None
        for feature in features if isinstance(features, list) else []:
            if isinstance(feature, dict) and feature.get("$type") == MENTION and feature.get("did") == did:
                return True
    return False


def _ref(reply: object, which: str) -> str | None:
    ref = reply.get(which) if isinstance(reply, dict) else None
    uri = ref.get("uri") if isinstance(ref, dict) else None
    return uri if isinstance(uri, str) else None


def to_reply(
    post: Created,
    our_did: str,
    alert_of: AlertOf,
    conversation_of: ConversationOf,
    author: str | None = None,
    web_url: str = "https://bsky.app",
) -> Reply | None:
    """The reply this post is to us, or None when it is neither under our posts nor a mention."""
    if post.repo == our_did:
        return None
    reply = post.record.get("reply")
    parent, root = _ref(reply, "parent"), _ref(reply, "root")
    under_ours = is_ours(parent, our_did) or is_ours(root, our_did)
    if not under_ours and not mentions(post.record, our_did):
        return None
    alert_id = None
    if under_ours:
        alert_id = (alert_of(parent) if parent and is_ours(parent, our_did) else None) or (
            alert_of(root) if root and is_ours(root, our_did) else None
        )
    if parent is None or is_ours(parent, our_did):
        conversation = post.uri
    elif under_ours:
        conversation = conversation_of(parent) or parent
    else:
        conversation = root or parent
    text = post.record.get("text")
    return Reply(
        id=reply_id("bluesky", post.uri),
        network="bluesky",
        author=author or post.repo,
        text=_INVISIBLE.sub("", text)[:TEXT_LIMIT] if isinstance(text, str) else "",
        url=f"{web_url.rstrip('/')}/profile/{post.repo}/post/{post.rkey}",
        at=written_at(post),
        alert_id=alert_id,
        in_reply_to=parent,
        conversation=conversation,
    )


def written_at(post: Created) -> datetime:
    """`createdAt`, unless unreadable or far from the sequencing time (see the module doc)."""
    created = parse_time(post.record.get("createdAt"))
    if post.time is None:
        if created is None:
            raise ValueError(f"{post.uri}: neither createdAt nor the commit's time can be read")
        return created
    if created is None or abs(created - post.time) > CLOCK_SKEW:
        return post.time
    return created

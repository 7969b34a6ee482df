"""What Matrix, Telegram, Facebook and X send, turned into replies (the pure tier): the JSON
samples have the shapes of each network's documentation (the client-server API's events, the
Bot API's Update and Message, Graph's comments edge, X API v2's mentions timeline)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alertcast.channels.facebook_replies import recent_posts
from alertcast.channels.facebook_reply_parsing import Mark, comment_of, is_new, marked, to_reply
from alertcast.channels.matrix_reply_parsing import Event, needs_parents, reply_of, without_fallback
from alertcast.channels.reply_text import plain_text
from alertcast.channels.telegram import TelegramAccount
from alertcast.channels.telegram_replies import bots
from alertcast.channels.telegram_reply_parsing import origin_of
from alertcast.channels.telegram_reply_parsing import reply_of as telegram_reply
from alertcast.channels.x_reply_parsing import handles, later, post_of
from alertcast.channels.x_reply_parsing import reply_of as x_reply

# --- Matrix -------------------------------------------------------------------------------------

ROOM, US, CITIZEN = "!abc:example.org", "@prefecture:example.org", "@jean:example.org"
OURS = {"$alert": "alert-1"}


def event(event_id: str, sender: str = CITIZEN, **content: Any) -> Event:
    body = {"msgtype": "m.text", "body": "Encore fermé chez moi", **content}
    return Event(event_id=event_id, sender=sender, origin_server_ts=1_700_000_000_000, content=body)


def test_a_rich_reply_to_our_post_is_kept_tied_to_its_alert() -> None:
    reply = reply_of(
        event("$r1", **{"m.relates_to": {"m.in_reply_to": {"event_id": "$alert"}}}), ROOM, US, OURS.get
    )
    assert reply is not None
    assert (reply.id, reply.alert_id, reply.conversation, reply.in_reply_to) == (
        "matrix:$r1",
        "alert-1",
        "$r1",
        "$alert",
    )
    assert reply.author == CITIZEN and reply.at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert reply.url == "https://matrix.to/#/!abc%3Aexample.org/%24r1"


def test_a_thread_message_under_our_post_is_kept_and_its_fallback_is_not_a_reply_target() -> None:
    relation = {
        "rel_type": "m.thread",
        "event_id": "$alert",
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": "$someone-else"},
    }
    thread = event("$t1", **{"m.relates_to": relation})
    assert thread.target == "$alert" and not needs_parents(thread, OURS.get)
    reply = reply_of(thread, ROOM, US, OURS.get)
    assert reply is not None and reply.alert_id == "alert-1" and reply.conversation == "$t1"


def test_an_answer_to_a_citizen_joins_that_citizen_conversation_under_our_post() -> None:
    first = event("$c1", **{"m.relates_to": {"m.in_reply_to": {"event_id": "$alert"}}})
    second = event("$c2", "@marie:example.org", **{"m.relates_to": {"m.in_reply_to": {"event_id": "$c1"}}})
    assert needs_parents(second, OURS.get)
    reply = reply_of(second, ROOM, US, OURS.get, [first])
    assert reply is not None and (reply.alert_id, reply.conversation) == ("alert-1", "$c1")


def test_our_messages_edits_chatter_and_redactions_are_skipped_and_mentions_kept() -> None:
    to_alert = {"m.relates_to": {"m.in_reply_to": {"event_id": "$alert"}}}
    assert reply_of(event("$o", US, **to_alert), ROOM, US, OURS.get) is None
    edit = event("$e", **{"m.relates_to": {"rel_type": "m.replace", "event_id": "$r1"}})
    assert reply_of(edit, ROOM, US, OURS.get) is None
    assert reply_of(event("$chat"), ROOM, US, OURS.get) is None
    redacted = Event(event_id="$x", sender=CITIZEN, content={})
    assert reply_of(redacted, ROOM, US, OURS.get) is None
    mention = reply_of(event("$m", **{"m.mentions": {"user_ids": [US]}}), ROOM, US, OURS.get)
    assert mention is not None and mention.alert_id is None and mention.conversation == "$m"


def test_the_reply_fallback_and_invisible_characters_are_removed() -> None:
    body = "> <@prefecture:example.org> Route fermée\n> à Arras\n\nEncore\u202e fermé"
    assert without_fallback(body) == "Encore\u202e fermé"
    assert plain_text(without_fallback(body)) == "Encore fermé"
    assert without_fallback("pas de citation") == "pas de citation"


# --- Telegram -----------------------------------------------------------------------------------

CHANNEL = {"id": -1001234567890, "title": "Préfecture", "username": "prefecture", "type": "channel"}
GROUP = {"id": -1009876543210, "title": "Préfecture (discussion)", "type": "supergroup"}
FORWARD = {
    "message_id": 41,
    "from": {"id": 777000, "is_bot": False, "first_name": "Telegram"},
    "sender_chat": CHANNEL,
    "chat": GROUP,
    "date": 1_700_000_000,
    "text": "Route fermée",
    "is_automatic_forward": True,
    "forward_origin": {"type": "channel", "chat": CHANNEL, "message_id": 12, "date": 1_700_000_000},
}
TELEGRAM_ALERTS = {"-1001234567890:12": "alert-1"}
BOT = 7_000_000_001


def comment(
    message_id: int, parent: dict[str, Any], text: str = "Encore fermé", **extra: Any
) -> dict[str, Any]:
    person = {"id": 5_000_000 + message_id, "is_bot": False, "first_name": "Jean", "username": "jeand"}
    return {
        "message_id": message_id,
        "from": person,
        "chat": GROUP,
        "date": 1_700_000_100,
        "text": text,
        "message_thread_id": 41,
        "reply_to_message": parent,
        **extra,
    }


def test_a_comment_under_a_channel_post_is_tied_to_its_alert() -> None:
    threads: dict[str, str] = {}
    reply = telegram_reply(comment(42, FORWARD), BOT, TELEGRAM_ALERTS.get, threads)
    assert reply is not None
    assert reply.id == "telegram:-1009876543210:42" and reply.alert_id == "alert-1"
    assert reply.in_reply_to == "-1001234567890:12" and reply.conversation == "-1009876543210:42"
    assert reply.author == "@jeand" and reply.url == "https://t.me/prefecture/12?comment=42"
    assert threads == {"-1009876543210:41": "-1001234567890:12"}


def test_an_answer_to_a_comment_is_placed_through_its_thread() -> None:
    threads = {"-1009876543210:41": "-1001234567890:12"}
    first = comment(42, FORWARD)
    answer = comment(43, {k: v for k, v in first.items() if k != "reply_to_message"}, "Chez moi aussi")
    reply = telegram_reply(answer, BOT, TELEGRAM_ALERTS.get, threads)
    assert reply is not None and reply.alert_id == "alert-1" and reply.conversation == "-1009876543210:42"
    assert telegram_reply(answer, BOT, TELEGRAM_ALERTS.get, {}) is None  # a thread never seen


def test_the_legacy_forward_fields_still_name_the_post() -> None:
    legacy = {k: v for k, v in FORWARD.items() if k != "forward_origin"}
    legacy.update(forward_from_chat=CHANNEL, forward_from_message_id=12)
    origin = origin_of(legacy)
    assert origin is not None and origin[0]["id"] == CHANNEL["id"] and origin[1] == 12
    assert origin_of({**FORWARD, "is_automatic_forward": False}) is None


def test_the_bot_the_channel_itself_and_unrelated_messages_are_skipped() -> None:
    ours = {**comment(44, FORWARD), "from": {"id": BOT, "is_bot": True, "first_name": "Bot"}}
    assert telegram_reply(ours, BOT, TELEGRAM_ALERTS.get, {}) is None
    as_channel = {**comment(45, FORWARD), "sender_chat": CHANNEL}
    assert telegram_reply(as_channel, BOT, TELEGRAM_ALERTS.get, {}) is None
    unrelated = {**comment(46, FORWARD), "reply_to_message": {"message_id": 3, "chat": GROUP, "text": "x"}}
    unrelated.pop("message_thread_id")
    assert telegram_reply(unrelated, BOT, TELEGRAM_ALERTS.get, {}) is None
    assert telegram_reply(FORWARD, BOT, TELEGRAM_ALERTS.get, {}) is None


def test_a_photo_comment_gives_its_caption_and_accounts_sharing_a_bot_share_a_reader() -> None:
    photo = {**comment(47, FORWARD), "caption": "Voyez la route"}
    photo.pop("text")
    reply = telegram_reply(photo, BOT, TELEGRAM_ALERTS.get, {})
    assert reply is not None and reply.text == "Voyez la route"
    accounts = [
        TelegramAccount(name="a", chat_id="@prefecture", access_token_env="BOT_ONE"),
        TelegramAccount(name="b", chat_id="@exercices", access_token_env="BOT_ONE"),
        TelegramAccount(name="c", chat_id="@routes", access_token_env="BOT_TWO"),
    ]
    assert list(bots(accounts)) == ["a", "c"]


# --- Facebook -----------------------------------------------------------------------------------

PAGE = "104567890123456"


def fb(comment_id: str, created: str, parent: str | None = None, author: str = "111") -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": comment_id,
        "from": {"name": "Jean Dupont", "id": author},
        "message": "Encore fermé",
        "created_time": created,
    }
    if parent:
        item["parent"] = {"id": parent, "created_time": created, "message": "..."}
    return item


def test_a_comment_and_an_answer_to_it_become_replies_in_one_conversation() -> None:
    post = f"{PAGE}_200"
    top = comment_of(fb("200_301", "2024-03-01T10:00:00+0000"))
    answer = comment_of(fb("200_302", "2024-03-01T10:05:00+0000", parent="200_301"))
    assert top is not None and answer is not None
    first, second = to_reply(top, post, "alert-1"), to_reply(answer, post, "alert-1")
    assert (first.id, first.in_reply_to, first.conversation) == ("facebook:200_301", post, "200_301")
    assert (second.in_reply_to, second.conversation) == ("200_301", "200_301")
    assert (
        first.author == "Jean Dupont" and first.url == f"https://www.facebook.com/{post}?comment_id=200_301"
    )
    assert first.at == datetime(2024, 3, 1, 10, tzinfo=UTC)
    hidden_author = comment_of({"id": "200_303", "message": "x", "created_time": "2024-03-01T10:06:00+0000"})
    assert hidden_author is not None and hidden_author.author == "Facebook"
    assert comment_of({"id": "200_304"}) is None


def test_marks_tell_new_comments_even_within_one_second() -> None:
    same = [comment_of(fb(f"200_{n}", "2024-03-01T10:00:00+0000")) for n in (1, 2)]
    later_one = comment_of(fb("200_3", "2024-03-01T10:00:01+0000"))
    assert all(same) and later_one is not None
    mark = marked([c for c in same[:1] if c], None)
    assert mark == Mark(newest=datetime(2024, 3, 1, 10, tzinfo=UTC), ids=["200_1"])
    assert not is_new(same[0], mark) and is_new(same[1], mark) and is_new(later_one, mark)  # type: ignore[arg-type]
    assert marked([c for c in same if c], mark) == Mark(newest=mark.newest, ids=["200_1", "200_2"])


def test_recent_posts_are_the_newest_published_within_the_window() -> None:
    now = datetime(2024, 3, 20, tzinfo=UTC)
    posts = {
        "p-old": ("a0", now - timedelta(days=30)),
        "p1": ("a1", now - timedelta(days=2)),
        "p2": ("a2", now - timedelta(hours=1)),
        "p3": ("a3", now - timedelta(days=3)),
    }
    assert recent_posts(posts, now) == [("p2", "a2"), ("p1", "a1"), ("p3", "a3")]
    assert recent_posts(posts, now, limit=1) == [("p2", "a2")]


# --- X ------------------------------------------------------------------------------------------

US_X = "2244994945"
X_ALERTS = {"1860000000000000001": "alert-1"}
MENTIONS: dict[str, Any] = {
    "data": [
        {
            "id": "1860000000000000005",
            "text": "@prefecture encore fermé à Arras",
            "author_id": "1234567890",
            "created_at": "2024-01-15T10:30:00.000Z",
            "conversation_id": "1860000000000000001",
            "referenced_tweets": [{"type": "replied_to", "id": "1860000000000000001"}],
        },
        {
            "id": "1860000000000000007",
            "text": "@dupont @prefecture pareil chez moi",
            "author_id": "1234567891",
            "created_at": "2024-01-15T10:40:00.000Z",
            "conversation_id": "1860000000000000001",
            "referenced_tweets": [{"type": "replied_to", "id": "1860000000000000005"}],
        },
        {
            "id": "1860000000000000009",
            "text": "Que fait @prefecture ?",
            "author_id": "1234567891",
            "created_at": "2024-01-15T10:50:00.000Z",
            "conversation_id": "1860000000000000009",
        },
    ],
    "includes": {"users": [{"id": "1234567890", "name": "Jean", "username": "dupont"}]},
    "meta": {"newest_id": "1860000000000000009", "oldest_id": "1860000000000000005", "result_count": 3},
}


def test_replies_to_our_post_answers_in_our_thread_and_mentions_elsewhere() -> None:
    posts = [post_of(item) for item in MENTIONS["data"]]
    authors = handles(MENTIONS)
    direct, deeper, elsewhere = (x_reply(p, US_X, X_ALERTS.get, authors) for p in posts if p)
    assert direct is not None and deeper is not None and elsewhere is not None
    assert (direct.id, direct.alert_id, direct.conversation) == (
        "x:1860000000000000005",
        "alert-1",
        direct.id[2:],
    )
    assert direct.author == "@dupont" and direct.url == "https://x.com/i/web/status/1860000000000000005"
    assert (deeper.alert_id, deeper.conversation, deeper.in_reply_to) == (
        "alert-1",
        "1860000000000000005",
        "1860000000000000005",
    )
    assert deeper.author == "1234567891"  # no user in includes: the id
    assert elsewhere.alert_id is None and elsewhere.conversation == "1860000000000000009"


def test_our_own_posts_are_skipped_and_ids_compare_as_numbers() -> None:
    ours = post_of({**MENTIONS["data"][0], "author_id": US_X})
    assert ours is not None and x_reply(ours, US_X, X_ALERTS.get, {}) is None
    assert later("999", "1000") == "1000" and later(None, "5") == "5"
    assert post_of({"id": "1"}) is None

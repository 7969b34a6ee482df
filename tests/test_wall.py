"""The demo's wall, pure: one column per network, each post with its time from approval, and
nothing a post says can become markup."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

from alertcast.demo import delivered, example_rounds
from alertcast.wall import StoredPost, approvals_by_version, columns, render

APPROVED = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quoted"'


class Sections(HTMLParser):
    """The wall's sections (network, post count) and every tag seen."""

    def __init__(self) -> None:
        super().__init__()
        self.networks: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "section":
            self.networks.append(dict(attrs)["data-network"] or "")


def receipt(
    channel: str, post_id: str, version: int, seconds: float, status: str = "sent"
) -> dict[str, object]:
    return {
        "alert_id": "a1",
        "version": version,
        "channel": channel,
        "account": "prefecture",
        "status": status,
        "post_id": post_id,
        "at": (APPROVED + timedelta(hours=version - 1, seconds=seconds)).isoformat(),
    }


def approvals() -> list[dict[str, object]]:
    return [
        {
            "draft": {"alert_id": "a1", "version": v},
            "approved_at": (APPROVED + timedelta(hours=v - 1)).isoformat(),
        }
        for v in (1, 2)
    ]


def test_each_post_carries_its_time_from_the_approval_of_each_version_that_made_or_edited_it() -> None:
    posts = {
        "facebook": [StoredPost(post_id="p1", text="first", edited=True)],
        "x": [StoredPost(post_id="10", text="first"), StoredPost(post_id="11", text="update", reply_to="10")],
    }
    receipts = [
        receipt("facebook", "p1", 1, 1.25),
        receipt("facebook", "p1", 2, 0.5),  # the Update edited the same post
        receipt("x", "10", 1, 2.0),
        receipt("x", "11", 2, 3.0),
        receipt("x", "12", 2, 9.0, status="dead"),  # no post: nothing shown for it
    ]
    wall = columns(posts, receipts, approvals_by_version(approvals()))

    assert [c.network for c in wall] == ["facebook", "x"]
    ((edited,),) = [c.posts for c in wall if c.network == "facebook"]
    assert [(a.version, a.seconds_after_approval) for a in edited.arrivals] == [(1, 1.25), (2, 0.5)]
    x = next(c for c in wall if c.network == "x")
    assert [[(a.version, a.seconds_after_approval) for a in p.arrivals] for p in x.posts] == [
        [(1, 2.0)],
        [(2, 3.0)],
    ]
    page = render(wall)
    assert "v1: 1.2 s after approval" in page and "v2: 0.5 s after approval" in page
    assert "v2: 3.0 s after approval" in page and "9.0 s" not in page
    assert "reply in thread" in page and "edited" in page


def test_one_column_per_network_even_before_any_post_and_an_unknown_approval_shows_as_pending() -> None:
    posts = {name: [] for name in ("email", "mastodon", "x", "facebook", "telegram")}
    posts["telegram"] = [StoredPost(post_id="5", text="hello")]
    page = render(columns(posts, [receipt("telegram", "5", 3, 1.0)], {}), left_out=["matrix (not installed)"])

    parser = Sections()
    parser.feed(page)
    assert parser.networks == ["email", "mastodon", "x", "facebook", "telegram"]
    assert page.count("nothing yet") == 4
    assert "v3: … after approval" in page
    assert "Left out: matrix (not installed)" in page
    assert re.search(r'http-equiv="refresh" content="\d+"', page)


def test_a_post_cannot_inject_markup_into_the_wall() -> None:
    posts = {"mastodon": [StoredPost(post_id='"><script>1</script>', text=HOSTILE)]}
    page = render(columns(posts, [], {}), left_out=["<b>bold</b>"])

    parser = Sections()
    parser.feed(page)
    assert "script" not in parser.tags and "img" not in parser.tags and "b" not in parser.tags
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "&amp; &#34;quoted&#34;" in page


def test_the_demo_submits_three_alerts_then_the_road_closures_update_and_a_cancel_of_it() -> None:
    alerts, update, cancel = example_rounds("t1")
    assert len(alerts) == 3 and all(a.msg_type == "Alert" for a in alerts)
    road = next(a for a in alerts if a.identifier.startswith("dir-nord-2026-1203-d934"))
    assert (update.msg_type, cancel.msg_type) == ("Update", "Cancel")
    assert update.key == cancel.key == road.key  # one thread: edits and replies of the same post
    assert [r.identifier for r in cancel.references] == [road.identifier, update.identifier]


def test_a_network_waits_until_each_wanted_version_has_an_ended_receipt() -> None:
    receipts = [
        {"channel": "x", "alert_id": "a1", "version": 1, "status": "sent"},
        {"channel": "facebook", "alert_id": "a1", "version": 1, "status": "paused"},
        {"channel": "email", "alert_id": "a1", "version": 1, "status": "dead"},
    ]
    assert delivered(receipts, ["x", "facebook", "email", "telegram"], {("a1", 1)}) == [
        "facebook",
        "telegram",
    ]
    assert delivered(receipts, ["x"], {("a1", 1), ("a1", 2)}) == ["x"]

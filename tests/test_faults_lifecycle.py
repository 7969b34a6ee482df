"""Issue 9 through the real pipeline: one alert, its update and its cancel reach every channel
(a real broker, a real `alertcast worker`, the real or contract server of each network), each
post read back from its server in the form its network calls for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.register_assert_rewrite("faults_support")  # before its import: it is also this tier's plugin
from faults_support import ALL_CHANNELS, Identity, Networks, cancel_of, incident, latest, read_until  # noqa: E402
from test_pipeline_kafka import cli  # noqa: E402

pytestmark = pytest.mark.faults
pytest_plugins = ["faults_support"]


def receipts_of(broker: str, prefix: str, version: int, count: int) -> dict[str, dict[str, Any]]:
    """The receipts of `version`, by channel, once every channel gave a final one."""

    def final(receipts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for key, r in latest(receipts).items() if key[0] == version and r["status"] != "in_flight"]

    receipts = read_until(
        broker,
        prefix + "deliveries.receipts",
        lambda got: len(final(got)) >= count,
        what=f"version {version}",
    )
    return {r["channel"]: r for r in final(receipts)}


def test_an_alert_its_update_and_its_cancel_reach_every_channel_in_each_networks_form(
    broker: str,
    prefix: str,
    start_worker: Any,
    worker_env: dict[str, str],
    networks: Networks,
    tmp_path: Path,
) -> None:
    ids: dict[str, Identity] = {channel: networks.add(channel) for channel in ALL_CHANNELS}
    env = networks.env(worker_env)
    worker = start_worker(**env)

    # 1. The alert: a receipt from every channel, and the post on every server.
    alert = incident(tmp_path, "01-road-closure-d934.json", networks.tag)
    assert cli("submit", str(alert), env=env).returncode == 0
    first = receipts_of(broker, prefix, 1, len(ALL_CHANNELS))
    assert {c: r["status"] for c, r in first.items()} == dict.fromkeys(ALL_CHANNELS, "sent"), (
        worker.log_tail()
    )
    for channel, identity in ids.items():
        if channel == "website":
            continue
        stored = networks.posts(identity)
        assert len(stored) == 1, (channel, stored)
        assert "Route D 934 fermée entre Arras et Cambrai" in stored[0]["text"], (channel, stored[0]["text"])
    alert_id = first["website"]["alert_id"]
    page = Path(env["ALERTCAST_SITE_DIR"]) / "alerts" / f"{alert_id}.html"
    assert "Route D 934 fermée entre Arras et Cambrai" in page.read_text()

    # 2. The update (msgType Update, referencing the alert): an edit where the network edits,
    # a reply in the thread where it does not.
    update = incident(tmp_path, "04-road-closure-d934-update.json", networks.tag)
    assert cli("submit", str(update), env=env).returncode == 0
    second = receipts_of(broker, prefix, 2, len(ALL_CHANNELS))
    assert {c: r["status"] for c, r in second.items()} == dict.fromkeys(ALL_CHANNELS, "sent"), (
        worker.log_tail()
    )
    new = "réouverture prévue à 11 h"
    posts = {channel: networks.posts(identity) for channel, identity in ids.items() if channel != "website"}

    hook = posts["webhook"]
    assert [body["msg_type"] for body in hook] == ["Alert", "Update"] and new in hook[1]["text"]

    mails = [mail["message"] for mail in posts["email"]]
    assert len(mails) == 2 and new in posts["email"][1]["text"]
    assert mails[1]["Subject"] == f"Mise à jour : {mails[0]['Subject']}"
    assert mails[1]["In-Reply-To"] == mails[0]["Message-ID"] == mails[1]["References"]

    (status,) = posts["mastodon"]  # edited in place: still one status, showing the new text
    assert new in status["text"] and "Route D 934 fermée" not in status["text"]

    root, reply = bluesky_thread(posts["bluesky"], new)
    assert reply["value"]["reply"] == {"root": ref(root), "parent": ref(root)}

    original, edit = posts["matrix"]
    assert edit["content"]["m.relates_to"] == {"rel_type": "m.replace", "event_id": original["event_id"]}
    assert new in edit["content"]["m.new_content"]["body"]

    first_x, reply_x = posts["x"]  # X edits are short-lived and for subscribers: a reply
    assert reply_x["in_reply_to"] == first_x["id"] == reply_x["conversation_id"] and new in reply_x["text"]

    (page_post,) = posts["facebook"]
    assert page_post["edits"] == 1 and new in page_post["text"]

    (message,) = posts["telegram"]
    assert "edit_date" in message and new in message["text"]

    assert new in page.read_text()

    # 3. The cancel: the end of the alert said in its thread (or on top of the edited post).
    cancel = cancel_of(alert)
    assert cli("submit", str(cancel), env=env).returncode == 0
    third = receipts_of(broker, prefix, 3, len(ALL_CHANNELS))
    assert {c: r["status"] for c, r in third.items()} == dict.fromkeys(ALL_CHANNELS, "sent"), (
        worker.log_tail()
    )
    end = "FIN D'ALERTE"
    posts = {channel: networks.posts(identity) for channel, identity in ids.items() if channel != "website"}

    hook = posts["webhook"]
    assert hook[2]["msg_type"] == "Cancel" and hook[2]["text"].startswith(end) and len(hook) == 3

    mails = [mail["message"] for mail in posts["email"]]
    assert len(mails) == 3 and posts["email"][2]["text"].startswith(end)
    assert mails[2]["Subject"] == f"Fin d'alerte : {mails[0]['Subject']}"
    assert mails[2]["In-Reply-To"] == mails[1]["Message-ID"]
    assert mails[2]["References"] == f"{mails[0]['Message-ID']} {mails[1]['Message-ID']}"

    status, notice = posts["mastodon"]
    assert notice["in_reply_to_id"] == status["id"] and notice["text"].startswith(end)

    records = posts["bluesky"]
    root, reply = bluesky_thread(records, new)
    (last,) = [r for r in records if r["text"].startswith(end)]
    assert len(records) == 3 and last["value"]["reply"] == {"root": ref(root), "parent": ref(reply)}

    original, edit, ending = posts["matrix"]
    assert ending["content"]["m.relates_to"] == {"m.in_reply_to": {"event_id": original["event_id"]}}
    assert ending["content"]["body"].startswith(end)

    first_x, reply_x, end_x = posts["x"]
    assert end_x["in_reply_to"] == reply_x["id"] and end_x["text"].startswith(end)

    (page_post,) = posts["facebook"]  # the notice on top of the last text, in the one post
    assert page_post["edits"] == 2 and page_post["text"].startswith(end) and new in page_post["text"]

    message, notice = posts["telegram"]
    assert notice["reply_to_message"]["message_id"] == message["message_id"]
    assert notice["text"].startswith(end) and new in message["text"]

    site = Path(env["ALERTCAST_SITE_DIR"])
    assert alert_id in (site / "archive.html").read_text()
    assert alert_id not in (site / "index.html").read_text()


def ref(record: dict[str, Any]) -> dict[str, str]:
    """A Bluesky strong reference to `record`."""
    return {"uri": record["uri"], "cid": record["cid"]}


def bluesky_thread(records: list[dict[str, Any]], update_text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the alert's record, the update's reply), told apart by what they say, not by order."""
    (root,) = [r for r in records if "reply" not in r["value"]]
    (reply,) = [r for r in records if update_text in r["text"] and not r["text"].startswith("FIN D'ALERTE")]
    return root, reply

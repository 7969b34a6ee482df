"""`Table.put`: a table write sent like any message, which Faust's recovery reads back.

The record goes straight to the producer (`produce`) instead of Faust's send buffer, so what
it holds and where it goes are ours to get right: the key and value as Faust encodes them
(its changelog recovery decodes them), on the partition of the event being handled (whose
owner recovers the table from it). The real round trip through a broker is the kafka and
faults tiers' (a restarted worker posts nothing twice: its ledger came back)."""

from __future__ import annotations

import asyncio
import weakref
from types import SimpleNamespace
from typing import Any

import pytest
from faust.streams import _current_event
from faust.types import Message

from alertcast.stream import app as stream_app


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []

    async def produce(
        channel: Any,
        key: bytes | None,
        value: bytes | None,
        headers: Any = None,
        partition: int | None = None,
    ) -> asyncio.Future[Any]:
        records.append(
            {"topic": channel.get_topic_name(), "key": key, "value": value, "partition": partition}
        )
        acknowledged: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        acknowledged.set_result(None)
        return acknowledged

    monkeypatch.setattr(stream_app, "produce", produce)
    return records


class Handled:
    """An event being handled: what `partition_for_key` reads of it."""

    def __init__(self, partition: int) -> None:
        self.message = SimpleNamespace(topic=stream_app.submitted.get_topic_name(), partition=partition)


def handling(partition: int) -> Handled:
    """Mark an event of that partition as handled, as Faust's stream does; keep it alive."""
    event = Handled(partition)
    _current_event.set(weakref.ref(event))  # type: ignore[arg-type]
    return event


async def recovered(table: stream_app.Table, record: dict[str, Any]) -> Any:
    """The record decoded as Faust's changelog recovery decodes it."""
    message = Message(
        topic=record["topic"],
        partition=record["partition"],
        offset=0,
        timestamp=0.0,
        timestamp_type=0,
        headers=[],
        key=record["key"],
        value=record["value"],
        checksum=None,
    )
    return await table.changelog_topic.decode(message)


async def test_a_write_is_sent_on_the_handled_partition_and_read_back_by_recovery(
    sent: list[dict[str, Any]],
) -> None:
    event = handling(4)
    value = {"version": 2, "messages": {"a/b": 2}, "info": [{"headline": "Route fermée"}]}
    acknowledged = await stream_app.versions.put("sender/identifier", value)
    await acknowledged
    assert event is not None
    [record] = sent
    assert record["topic"] == stream_app.versions.changelog_topic.get_topic_name()
    assert record["partition"] == 4
    back = await recovered(stream_app.versions, record)
    assert (back.key, back.value) == ("sender/identifier", value)
    assert stream_app.versions.data["sender/identifier"] == value


async def test_a_json_string_value_comes_back_as_the_same_string(sent: list[dict[str, Any]]) -> None:
    event = handling(1)
    entry = '{"delivery_key":"a:1:webhook:hook","state":"in_flight"}'
    await stream_app.ledger.put("a:1:webhook:hook", entry)
    back = await recovered(stream_app.ledger, sent[0])
    assert (back.value, sent[0]["partition"], event.message.partition) == (entry, 1, 1)


async def test_a_write_outside_an_event_is_refused(sent: list[dict[str, Any]]) -> None:
    _current_event.set(None)
    with pytest.raises(TypeError):
        await stream_app.ledger.put("k", "v")
    assert sent == []


def test_the_dict_way_of_writing_is_refused_and_says_how() -> None:
    with pytest.raises(TypeError, match=r"await table\.put"):
        stream_app.ledger["k"] = "v"

"""Text that is not text, through every door but the API (test_web_fuzz has that one):
`alertcast submit` and `alertcast parse`, the pollers and the ingest agent. Lone surrogates,
overlong UTF-8, NUL bytes and mixed encodings are refused with the one error shape, the
refusal always serialises for incidents.rejected, and nothing raises."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ingest_fuzz import HOSTILE_DOCUMENTS, HOSTILE_TEXT, lone_surrogate_inside

from alertcast.delivery.retry import RetryPolicy
from alertcast.ingest.detect import parse_document
from alertcast.ingest.json_ import lone_surrogates, may_hold_surrogates
from alertcast.ingest.pollers import FetchResponse, PollerSource, PollerState, poll
from alertcast.models.alert import Rejection
from alertcast.models.problem import Problem
from alertcast.settings import Settings
from alertcast.stream import ingest as ingest_agent
from alertcast.submit import parse_files, read_incidents, submit_files

SURROGATE_BODY = b'{"identifier": "\\ud800"}'
EXAMPLE = Path(__file__).resolve().parents[1] / "deploy" / "examples" / "01-road-closure-d934.json"
FAST = RetryPolicy(attempts=1, base_s=0.001, cap_s=0.001)
DOORS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


# --- the shared pieces: the JSON reader and the error shape -------------------------------------


@pytest.mark.parametrize(
    "content_type", [None, "application/json", "application/xml", "application/x-protobuf"]
)
def test_a_lone_surrogate_is_refused_by_its_json_path(content_type: str | None) -> None:
    result = parse_document(SURROGATE_BODY, content_type)
    assert result.format == "json" and result.incidents == []
    (problem,) = result.problems
    assert (problem.path, problem.value, problem.rule) == ("identifier", "\\ud800", "unpaired_surrogate")
    assert problem.message and problem.hint
    result.model_dump_json()


def test_every_lone_surrogate_is_named_and_good_items_of_a_list_still_parse() -> None:
    good = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    bad = {**good, "identifier": "a\ud800", "\udfff": 1}
    bad["info"] = [{**good["info"][0], "headline": "\udc00\ud800"}]
    data = json.dumps([good, bad]).encode()
    result = parse_document(data)
    assert [i.identifier for i in result.incidents] == [good["identifier"]]
    assert {(p.path, p.value) for p in result.problems} == {
        ("1.identifier", "a\\ud800"),
        ("1.\\udfff", "\\udfff"),
        ("1.info.0.headline", "\\udc00\\ud800"),
    }
    assert {p.rule for p in result.problems} == {"unpaired_surrogate"}


def test_a_pair_in_the_right_order_is_one_character_and_fine() -> None:
    result = parse_document(b'{"identifier": "\\ud83d\\ude80"}')
    assert result.problems and "unpaired_surrogate" not in {p.rule for p in result.problems}
    assert "identifier" not in {p.path for p in result.problems}  # a valid identifier, other fields missing


def test_a_document_full_of_surrogates_is_named_by_its_first_few() -> None:
    result = parse_document(json.dumps({"identifier": ["\ud800"] * 500}).encode())
    assert len(result.problems) == 21
    assert result.problems[-1].value == 500 and result.problems[-1].path == ""


def test_nesting_deeper_than_python_recurses_is_refused_not_raised() -> None:
    for data in (b"[" * 5000, b'{"a":' * 5000):
        assert {p.rule for p in parse_document(data).problems} == {"json_syntax"}


def test_a_problem_quoting_a_lone_surrogate_always_serialises() -> None:
    problem = Problem(path="info.\ud800", value={"\udfff": ["\ud800"]}, rule="r", message="m \ud800", hint="")
    assert json.loads(problem.model_dump_json()) == {
        "path": "info.\\ud800",
        "value": {"\\udfff": ["\\ud800"]},
        "rule": "r",
        "message": "m \\ud800",
        "hint": "",
        "message_id": "",
        "hint_id": "",
        "params": {},
    }
    copied = problem.model_copy(update={"path": "https://e.org/feed#\ud800"})  # as the pollers prefix
    assert copied.path == "https://e.org/feed#\\ud800"
    copied.model_dump_json()
    assert "\\ud800" in problem.line()


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | HOSTILE_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(HOSTILE_TEXT, inner, max_size=3),
    max_leaves=8,
)


@given(_JSON_VALUES, st.booleans(), st.sampled_from(["str", "utf-8", "utf-8-sig", "utf-16", "utf-32-le"]))
def test_a_document_said_free_of_surrogates_holds_none(value: Any, ascii_only: bool, encoding: str) -> None:
    # parse_json walks a document's strings only where the raw text may hold a surrogate.
    text = json.dumps(value, ensure_ascii=ascii_only)
    data = text if encoding == "str" else text.encode(encoding, "surrogatepass")
    if lone_surrogates(json.loads(data)):
        assert may_hold_surrogates(data)


def test_a_lone_surrogate_in_xml_given_as_str_is_refused_not_raised() -> None:
    from alertcast.ingest.cap import parse_cap

    result = parse_cap(
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>\ud800</identifier></alert>'
    )
    assert {p.rule for p in result.problems} == {"xml_syntax"}


# --- alertcast submit / alertcast parse ---------------------------------------------------------


def test_submit_refuses_before_any_broker_is_needed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(SURROGATE_BODY)
    # No broker at this address: reaching `produce` would fail, so exit 2 proves nothing was sent.
    status = submit_files([path], Settings(bootstrap="127.0.0.1:9"), "cli")
    err = capsys.readouterr().err
    assert status == 2
    assert f"{path}: identifier: " in err and "[unpaired_surrogate]" in err
    assert "nothing was submitted" in err


def run_doors(data: bytes) -> tuple[list[str], int, str, str]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input"
        path.write_bytes(data)
        _, errors = read_incidents([path], "cli")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = parse_files([path], "cli")
    return errors, status, out.getvalue(), err.getvalue()


@DOORS
@given(HOSTILE_DOCUMENTS)
def test_hostile_text_through_submit_and_parse(data: bytes) -> None:
    errors, status, out, err = run_doors(data)
    assert status in (0, 1, 2)
    assert (status == 2) == bool(errors)  # both commands decide alike
    for text in (out, err):
        text.encode("utf-8")  # printable, whatever came in (this raises otherwise)
    if lone_surrogate_inside(data):
        assert status == 2 and "[unpaired_surrogate]" in err
        assert any("[unpaired_surrogate]" in line for line in errors)


# --- the pollers --------------------------------------------------------------------------------


def poll_body(data: bytes, content_type: str) -> Any:
    async def fetch(url: str, headers: dict[str, str]) -> FetchResponse:
        return FetchResponse(status=200, headers={"content-type": content_type}, body=data)

    source = PollerSource(name="hostile", url="https://feeds.example.org/alerts", kind="gtfs-rt")
    return asyncio.run(poll(source, PollerState(), fetch, FAST))


def test_a_polled_document_with_a_lone_surrogate_becomes_a_rejection() -> None:
    outcome = poll_body(SURROGATE_BODY, "application/json")
    assert outcome.incidents == []
    [rejection] = outcome.rejections
    [problem] = rejection.problems
    assert (problem.path, problem.rule) == (
        "https://feeds.example.org/alerts#identifier",
        "unpaired_surrogate",
    )
    assert Rejection.model_validate_json(rejection.model_dump_json()).raw == SURROGATE_BODY.decode()


@DOORS
@given(HOSTILE_DOCUMENTS)
def test_hostile_text_through_a_poller(data: bytes) -> None:
    outcome = poll_body(data, "application/octet-stream")
    for rejection in outcome.rejections:
        Rejection.model_validate_json(rejection.model_dump_json())
    outcome.model_dump_json()
    if lone_surrogate_inside(data):
        assert any(p.rule == "unpaired_surrogate" for r in outcome.rejections for p in r.problems)


# --- the ingest agent (its loop, with the rejected topic replaced: no broker) -------------------


@dataclass
class Event:
    value: bytes
    key: bytes | None = None
    headers: dict[str, bytes] = field(default_factory=dict)


class Topic:
    """What the agent hands the producer for one topic (alertcast.stream.app.produce)."""

    def __init__(self, name: Any) -> None:
        self.name = name
        self.sent: list[tuple[bytes | None, bytes]] = []

    async def produce(self, channel: Any, key: bytes | None, value: bytes, headers: Any = None) -> None:
        assert channel is self.name, f"sent to {channel}, not to {self.name}"
        self.sent.append((key, value))


@pytest.fixture
def rejected(monkeypatch: pytest.MonkeyPatch) -> Topic:
    topic = Topic(ingest_agent.rejected)
    monkeypatch.setattr(ingest_agent, "produce", topic.produce)
    return topic


def agent_rejects(data: bytes, topic: Topic, content_type: bytes = b"application/json") -> Rejection:
    event = Event(value=data, headers={"alertcast-source": b"kafka-producer", "content-type": content_type})
    asyncio.run(ingest_agent.ingest_in_order(event))
    [(_, value)] = topic.sent
    topic.sent.clear()
    return Rejection.model_validate_json(value)


def test_the_ingest_agent_rejects_a_lone_surrogate_with_reasons(rejected: Topic) -> None:
    rejection = agent_rejects(SURROGATE_BODY, rejected)
    assert rejection.source == "kafka-producer" and rejection.raw == SURROGATE_BODY.decode()
    assert [(p.path, p.rule) for p in rejection.problems] == [("identifier", "unpaired_surrogate")]
    assert rejection.received_at <= datetime.now(UTC)


@DOORS
@given(HOSTILE_DOCUMENTS)
def test_hostile_refusals_through_the_ingest_agent(rejected: Topic, data: bytes) -> None:
    result = parse_document(data, "application/json")
    if result.incidents:
        return  # accepting goes on to the version table (Kafka tier); refusals are what is tested here
    rejection = agent_rejects(data, rejected)
    assert rejection.raw == data.decode("utf-8", "replace")[:100_000]
    exact = base64.b64decode(rejection.raw_base64) if rejection.raw_base64 else rejection.raw.encode()
    assert exact == data[:100_000]  # the bytes themselves, whatever their encoding
    assert all(p.rule != "internal_error" for p in rejection.problems)  # refused for a reason, not a bug
    if lone_surrogate_inside(data):
        assert "unpaired_surrogate" in {p.rule for p in rejection.problems}

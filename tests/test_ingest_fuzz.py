"""Hostile and broken input never escapes a parser as an exception, and never hangs it.

Every test asserts the same contract: a ParseResult (or Feed) comes back, and it either
refuses the input with named problems or holds incidents that the model accepted.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertcast.ingest.cap import parse_cap
from alertcast.ingest.datex2 import parse_datex2
from alertcast.ingest.detect import parse_document
from alertcast.ingest.feeds import Feed, parse_feed
from alertcast.ingest.gtfs_rt import parse_gtfs_rt, parse_gtfs_rt_json
from alertcast.ingest.result import ParseResult
from alertcast.models.incident import Incident

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples"
ALL = sorted(p for d in ("cap", "datex2", "gtfs-rt", "feeds") for p in (SAMPLES / d).iterdir())
XML = [p.read_bytes() for p in ALL if p.suffix in (".xml", ".atom", ".rss")]
CAP_VALID = [
    p.read_text(encoding="utf-8")
    for p in sorted((SAMPLES / "cap").glob("*.xml"))
    if not p.name.startswith("invalid-") and "iso8859" not in p.name
]
PROTOBUF = [p.read_bytes() for p in ALL if p.suffix == ".pb"]
GTFS_JSON = [p.read_text(encoding="utf-8") for p in ALL if p.parent.name == "gtfs-rt" and p.suffix == ".json"]

FUZZ = settings(max_examples=500, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def check(result: ParseResult) -> None:
    """The contract: refused with named problems, or incidents the model holds."""
    assert isinstance(result, ParseResult)
    assert result.problems or result.incidents
    for problem in [*result.problems, *result.warnings]:
        assert problem.rule
    for incident in result.incidents:
        Incident.model_validate(incident.model_dump())
    result.model_dump_json()  # every problem value is serialisable, for topics and API answers


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_through_the_detector(data: bytes) -> None:
    check(parse_document(data))


@FUZZ
@given(st.sampled_from(XML), st.integers(min_value=0, max_value=60_000))
def test_truncated_real_xml(document: bytes, cut: int) -> None:
    check(parse_document(document[: cut % max(len(document), 1)]))


@FUZZ
@given(st.sampled_from(XML), st.integers(min_value=0), st.binary(min_size=1, max_size=8))
def test_spliced_bytes_in_real_xml(document: bytes, position: int, noise: bytes) -> None:
    at = position % len(document)
    check(parse_document(document[:at] + noise + document[at + len(noise) :]))


@FUZZ
@given(
    st.sampled_from(CAP_VALID),
    st.sampled_from(
        [
            "sent",
            "effective",
            "onset",
            "expires",
            "polygon",
            "circle",
            "areaDesc",
            "headline",
            "description",
            "urgency",
            "references",
            "language",
            "event",
            "identifier",
        ]
    ),
    st.one_of(
        st.text(max_size=60),
        st.from_regex(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}([+-]\d{2}:\d{2}|Z)?", fullmatch=True),
        st.lists(st.tuples(st.floats(allow_nan=True), st.floats(allow_nan=True)), max_size=6).map(
            lambda pts: " ".join(f"{a},{b}" for a, b in pts)
        ),
        st.integers(min_value=1, max_value=200_000).map(lambda n: "x" * n),
    ),
)
def test_mutated_cap_fields(document: str, element: str, value: str) -> None:
    escaped = value.replace("&", "&amp;").replace("<", "&lt;")
    start = document.find(f"<{element}>")
    if start == -1:
        mutated = document
    else:
        end = document.find(f"</{element}>", start)
        mutated = document[: start + len(element) + 2] + escaped + document[end:]
    check(parse_cap(mutated))


@FUZZ
@given(st.sampled_from(CAP_VALID), st.text(max_size=80))
def test_wrong_namespaces(document: str, namespace: str) -> None:
    escaped = namespace.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    result = parse_cap(document.replace("urn:oasis:names:tc:emergency:cap:1.2", escaped))
    check(result)
    if escaped not in ("urn:oasis:names:tc:emergency:cap:1.2", "urn:oasis:names:tc:emergency:cap:1.1"):
        assert not result.incidents


@settings(max_examples=100, deadline=None, database=None)
@given(st.integers(min_value=2, max_value=12), st.integers(min_value=2, max_value=12))
def test_entity_expansion_bombs(depth: int, width: int) -> None:
    entities = '<!ENTITY e0 "ha">' + "".join(
        f'<!ENTITY e{i} "{f"&e{i - 1};" * width}">' for i in range(1, depth + 1)
    )
    for parser in (parse_cap, parse_datex2):
        result = parser(f'<?xml version="1.0"?><!DOCTYPE alert [{entities}]><alert>&e{depth};</alert>')
        check(result)
        assert {p.rule for p in result.problems} == {"xml_forbidden_construct"}
    assert {p.rule for p in parse_feed(f"<!DOCTYPE rss [{entities}]><rss>&e{depth};</rss>").problems} == {
        "xml_forbidden_construct"
    }


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=4096),
        st.sampled_from(PROTOBUF).flatmap(
            lambda pb: st.tuples(st.integers(min_value=0, max_value=len(pb)), st.binary(max_size=16)).map(
                lambda cut: pb[: cut[0]] + cut[1] + pb[cut[0] + len(cut[1]) :]
            )
        ),
    )
)
def test_random_and_mutated_protobuf(data: bytes) -> None:
    check(parse_gtfs_rt(data))


@FUZZ
@given(
    st.one_of(
        st.text(max_size=500),
        st.sampled_from(GTFS_JSON).flatmap(
            lambda text: st.integers(min_value=0, max_value=len(text)).map(lambda cut: text[:cut])
        ),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(
                    st.sampled_from(
                        [
                            "header",
                            "entity",
                            "id",
                            "alert",
                            "timestamp",
                            "gtfsRealtimeVersion",
                            "activePeriod",
                            "start",
                            "end",
                            "headerText",
                            "translation",
                            "text",
                        ]
                    ),
                    inner,
                    max_size=4,
                )
            ),
            max_leaves=20,
        ).map(json.dumps),
    )
)
def test_random_gtfs_rt_json(text: str) -> None:
    check(parse_gtfs_rt_json(text))


@FUZZ
@given(st.sampled_from([p.read_bytes() for p in ALL if p.parent.name == "feeds"]), st.integers(min_value=0))
def test_truncated_feeds(document: bytes, cut: int) -> None:
    feed = parse_feed(document[: cut % len(document)])
    assert isinstance(feed, Feed)
    assert feed.problems or feed.entries or feed.warnings or feed.format in ("atom", "rss")
    feed.model_dump_json()

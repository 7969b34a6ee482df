"""Hostile and broken input never escapes a parser as an exception, and never hangs it.

Every test asserts the same contract: a ParseResult (or Feed) comes back, and it either
refuses the input with named problems or holds incidents that the model accepted.
"""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from google.transit import gtfs_realtime_pb2 as gtfs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertcast.ingest.cap import parse_cap
from alertcast.ingest.datex2 import parse_datex2
from alertcast.ingest.detect import parse_document
from alertcast.ingest.feeds import Feed, parse_feed
from alertcast.ingest.gtfs_rt import parse_gtfs_rt, parse_gtfs_rt_json
from alertcast.ingest.result import ParseResult
from alertcast.models.alert import Rejection
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
INCIDENTS_IN = {feed: len(parse_gtfs_rt(feed).incidents) for feed in PROTOBUF}
GTFS_JSON = [p.read_text(encoding="utf-8") for p in ALL if p.parent.name == "gtfs-rt" and p.suffix == ".json"]
BISON = (SAMPLES / "datex2" / "fr-bisonfute-tipi-v2-situation-vehicle-obstruction.xml").read_text(
    encoding="utf-8"
)
EXAMPLES = Path(__file__).resolve().parents[1] / "deploy" / "examples"
JSON_DOCUMENTS: list[Any] = [
    *(json.loads(p.read_text(encoding="utf-8")) for p in sorted(EXAMPLES.glob("*.json"))),
    *(json.loads(text) for text in GTFS_JSON),
]

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


def check_rejection(data: bytes, result: ParseResult) -> None:
    """What every intake path writes to incidents.rejected always serialises, and keeps the
    payload: readable (decoded as UTF-8 with replacement: never a lone surrogate), and exact in
    base64 when it is no UTF-8 text."""
    rejection = Rejection.of(data, "fuzz", datetime.now(UTC), result.problems)
    kept = Rejection.model_validate_json(rejection.model_dump_json().encode())
    assert kept.raw == data.decode("utf-8", "replace")
    exact = base64.b64decode(kept.raw_base64) if kept.raw_base64 is not None else kept.raw.encode()
    assert exact == data


# --- hostile text (issue #16): what broken encoders send, for every intake door ----------------
# Lone surrogates (escaped in JSON, or as their bytes), overlong UTF-8, NUL bytes, and mixed
# encodings (latin-1 bytes in a UTF-8 document, byte order marks that lie or tell the truth).
# test_web_fuzz and test_ingest_hostile_text import these strategies.

LONE_SURROGATE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
HOSTILE_TEXT = st.lists(
    LONE_SURROGATE | st.sampled_from(["\x00", "é", "€", "😀", "\u2028", "\ufeff", "a", " "]),
    min_size=1,
    max_size=6,
).map("".join)
HOSTILE_BYTES = st.sampled_from(
    [
        b"\xed\xa0\x80",  # U+D800 as UTF-8 bytes
        b"\xed\xbf\xbf",  # U+DFFF
        b"\xed\xa0\xbd\xed\xb8\x80",  # a surrogate pair as CESU-8, not UTF-8
        b"\\ud800",  # the JSON escape
        b"\\udfff\\ud800",  # a pair in the wrong order
        b"\xc0\xaf",  # overlong '/'
        b"\xc0\x80",  # overlong NUL
        b"\xe0\x80\xaf",
        b"\xf0\x80\x80\xaf",
        b"\x00",
        b"\\u0000",
        b"\xe9",  # latin-1 'é' in a UTF-8 document
        b"caf\xe9 cr\xe8me",
        b"\x80",
        b"\xff\xfe",  # UTF-16 byte order marks
        b"\xfe\xff",
        b"\xef\xbb\xbf",
    ]
)
MARKER = "MARKER-FOR-HOSTILE-BYTES"  # longer than any HOSTILE_BYTES, unique in every feed
ENCODINGS = st.sampled_from(["escaped", "utf-8", "utf-16", "bom-lies", "latin-1-inside"])


def encode(document: Any, how: str) -> bytes:
    """A JSON document as a broken (or merely unusual) encoder would send it."""
    if how == "escaped":
        return json.dumps(document).encode()  # lone surrogates as \\udxxx escapes
    text = json.dumps(document, ensure_ascii=False)
    if how == "utf-16":
        return text.encode("utf-16", "surrogatepass")  # with its BOM
    raw = text.encode("utf-8", "surrogatepass")  # lone surrogates as their bytes
    if how == "bom-lies":
        return b"\xff\xfe" + raw
    if how == "latin-1-inside":
        return raw.replace("é".encode(), b"\xe9")
    return raw


def _string_spots(document: Any) -> list[tuple[Any, Any]]:
    """(container, key) of every string value in a decoded JSON document."""
    spots: list[tuple[Any, Any]] = []
    stack = [document]
    while stack:
        item = stack.pop()
        pairs = item.items() if isinstance(item, dict) else enumerate(item) if isinstance(item, list) else []
        for key, value in pairs:
            if isinstance(value, str):
                spots.append((item, key))
            else:
                stack.append(value)
    return spots


@st.composite
def hostile_json(draw: st.DrawFn) -> bytes:
    """A real JSON document (alertcast examples, GTFS-RT feeds) with hostile text in a value or a key."""
    document = copy.deepcopy(draw(st.sampled_from(JSON_DOCUMENTS)))
    container, key = draw(st.sampled_from(_string_spots(document)))
    text = draw(HOSTILE_TEXT)
    if isinstance(container, dict) and draw(st.booleans()):
        container[text] = container.pop(key)
    else:
        container[key] = text
    return encode(document, draw(ENCODINGS))


@st.composite
def spliced(draw: st.DrawFn, documents: list[bytes]) -> bytes:
    """A real document with hostile bytes written over it somewhere."""
    document = draw(st.sampled_from(documents))
    noise = draw(HOSTILE_BYTES)
    at = draw(st.integers(min_value=0, max_value=max(len(document) - 1, 0)))
    return document[:at] + noise + document[at + len(noise) :]


REAL_DOCUMENTS = [p.read_bytes() for p in ALL]
HOSTILE_DOCUMENTS = hostile_json() | spliced(REAL_DOCUMENTS)


def lone_surrogate_inside(data: bytes) -> bool:
    """Whether the JSON as Python decodes it holds a string (or key) no UTF-8 encoder accepts."""
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        return False
    return bool(_undecodable_strings(document))


def _undecodable_strings(document: Any) -> list[str]:
    found = []
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                found.append(item)
        elif isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            stack += item
    return found


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


@FUZZ
@given(HOSTILE_DOCUMENTS)
def test_hostile_text_through_the_detector(data: bytes) -> None:
    result = parse_document(data)
    check(result)
    check_rejection(data, result)
    if lone_surrogate_inside(data):
        assert "unpaired_surrogate" in {p.rule for p in result.problems}


@FUZZ
@given(HOSTILE_DOCUMENTS, st.sampled_from(["application/json", "application/xml", "application/x-protobuf"]))
def test_hostile_text_under_each_content_type(data: bytes, content_type: str) -> None:
    result = parse_document(data, content_type)
    check(result)
    check_rejection(data, result)


@FUZZ
@given(HOSTILE_TEXT, st.sampled_from(["cap", "datex2"]))
def test_hostile_text_in_xml_given_as_str(text: str, kind: str) -> None:
    """A str (not bytes) holding lone surrogates or NULs reaches the XML parsers: refused, no crash."""
    if kind == "cap":
        result = parse_cap(CAP_VALID[0].replace("<identifier>", f"<identifier>{text}", 1))
    else:
        result = parse_datex2(BISON.replace('<value lang="fr">', f'<value lang="fr">{text}', 1))
    check(result)
    if any("\ud800" <= char <= "\udfff" or char == "\x00" for char in text):
        assert {p.rule for p in result.problems} == {"xml_syntax"}


@settings(FUZZ, max_examples=150)
@given(st.sampled_from(PROTOBUF), st.integers(min_value=0), HOSTILE_BYTES)
def test_hostile_bytes_in_protobuf_strings(feed: bytes, which: int, noise: bytes) -> None:
    """Bytes that are no UTF-8 in a string of a real feed: that entity is refused by the
    string's path, the others still become incidents, nothing raises."""
    message = gtfs.FeedMessage()
    message.ParseFromString(feed)
    before = INCIDENTS_IN[feed]
    indexes = [i for i, entity in enumerate(message.entity) if entity.HasField("alert")]
    index = indexes[which % len(indexes)]
    translation = message.entity[index].alert.header_text.translation.add(text=MARKER, language="xx")
    position = len(message.entity[index].alert.header_text.translation) - 1
    filler = noise + b"a" * (len(MARKER) - len(noise))
    data = message.SerializeToString().replace(MARKER.encode(), filler)
    assert translation.text == MARKER and len(filler) == len(MARKER)
    result = parse_gtfs_rt(data)
    check(result)
    check_rejection(data, result)
    try:
        filler.decode("utf-8")
    except UnicodeDecodeError:
        path = f"entity[{index}].alert.header_text.translation[{position}].text"
        assert [(p.path, p.rule) for p in result.problems] == [(path, "invalid_utf8")]
        assert len(result.incidents) == before - 1
    else:
        assert result.problems == [] and len(result.incidents) == before

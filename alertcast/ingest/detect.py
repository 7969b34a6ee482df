"""One format detector for every door in (CLI, HTTP API, pollers), so they never disagree.

The content decides when it is recognisable; the Content-Type only breaks ties (an empty or
broken body still goes to the parser the sender named, which then says what is wrong).
"""

from __future__ import annotations

import json
import re
from typing import Any

from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2 as gtfs
from pydantic import BaseModel

from alertcast.i18n import N_
from alertcast.ingest.cap import CAP_NAMESPACES, parse_cap, parse_xml_safely, split_tag
from alertcast.ingest.datex2 import NAMESPACE_PREFIX as DATEX2_NAMESPACE_PREFIX
from alertcast.ingest.datex2 import parse_datex2
from alertcast.ingest.gtfs_rt import parse_gtfs_rt, parse_gtfs_rt_json
from alertcast.ingest.json_ import parse_json
from alertcast.ingest.result import ParseResult
from alertcast.models.problem import Problem

FORMATS = ("json", "cap", "datex2", "gtfs-rt", "gtfs-rt-json")
UNKNOWN = "unknown"
_HINT = N_(
    "send alertcast JSON (application/json), CAP 1.2 XML (application/cap+xml), DATEX II XML "
    "(application/xml), GTFS-Realtime protobuf (application/x-protobuf) or its JSON form"
)

_CONTENT_TYPES = {
    "application/cap+xml": "cap",
    "application/x-protobuf": "gtfs-rt",
    "application/protobuf": "gtfs-rt",
    "application/vnd.google.protobuf": "gtfs-rt",
    "application/octet-stream": "gtfs-rt",
    "application/json": "json",
    "text/json": "json",
}
_FEED_ROOTS = {("http://www.w3.org/2005/Atom", "feed"), ("", "rss")}
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


class Detection(BaseModel):
    """What the bytes are, or why that cannot be told."""

    format: str
    problem: Problem | None = None


def detect(data: bytes, content_type: str | None = None) -> Detection:
    """Detect the format; `format` is "unknown" (with a problem) when nothing fits."""
    declared = _declared(content_type)
    head = _head(data)
    if head.startswith("<"):
        return _detect_xml(data, declared)
    if head.startswith(("{", "[")):
        return Detection(format=_detect_json(data))
    if data.strip() and _is_feed_message(data):
        return Detection(format="gtfs-rt")
    if declared is not None and declared != "xml":
        return Detection(format=declared)
    return Detection(
        format=UNKNOWN,
        problem=Problem.said(
            "",
            "unknown_format",
            N_("the document is none of the formats alertcast reads (Content-Type %(content_type)s)")
            if content_type
            else N_("the document is none of the formats alertcast reads"),
            _HINT,
            value=_excerpt(data),
            content_type=content_type,
        ),
    )


def detect_format(data: bytes, content_type: str | None = None) -> str:
    """One of FORMATS, or "unknown"."""
    return detect(data, content_type).format


def parse_document(data: bytes, content_type: str | None = None, source: str = "kafka") -> ParseResult:
    """Detect, then parse with that format's parser: the one entry point for every intake."""
    detection = detect(data, content_type)
    if detection.format == "cap":
        return parse_cap(data, source=source)
    if detection.format == "datex2":
        return parse_datex2(data, source=source)
    if detection.format == "gtfs-rt":
        return parse_gtfs_rt(data, source=source)
    if detection.format == "gtfs-rt-json":
        return parse_gtfs_rt_json(data, source=source)
    if detection.format == "json":
        return parse_json(data, source=source)
    result = ParseResult(format=UNKNOWN)
    if detection.problem is not None:
        result.problems.append(detection.problem)
    return result


def _declared(content_type: str | None) -> str | None:
    if not content_type:
        return None
    media = content_type.split(";")[0].strip().lower()
    if media in _CONTENT_TYPES:
        return _CONTENT_TYPES[media]
    if media.endswith("+json"):
        return "json"
    if media.endswith(("/xml", "+xml")):
        return "xml"
    return None


def _head(data: bytes) -> str:
    """The first meaningful characters, whatever the BOM (UTF-8 or UTF-16)."""
    sample = data[:256]
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = sample.decode("utf-16", "ignore")
    else:
        text = sample.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "ignore")
    return text.lstrip()


def _detect_xml(data: bytes, declared: str | None) -> Detection:
    root, _ = parse_xml_safely(data, "XML")
    if root is not None:
        namespace, local = split_tag(root.tag)
        if namespace in CAP_NAMESPACES or (local == "alert" and "emergency" in namespace):
            return Detection(format="cap")
        if namespace.startswith(DATEX2_NAMESPACE_PREFIX):
            return Detection(format="datex2")
        if (namespace, local) in _FEED_ROOTS:
            return Detection(
                format=UNKNOWN,
                problem=Problem.said(
                    local,
                    "unknown_format",
                    N_("this is a CAP index feed (Atom or RSS), not an incident"),
                    N_("configure it as a feed source: the poller follows each entry's link to its CAP"),
                    value=local,
                ),
            )
        if local == "alert":
            return Detection(format="cap")  # the CAP parser explains the namespace problem
        return Detection(
            format=UNKNOWN,
            problem=Problem.said(
                local,
                "unknown_format",
                N_("XML root <%(element)s> in namespace '%(namespace)s' is not CAP or DATEX II"),
                _HINT,
                value=f"{{{namespace}}}{local}" if namespace else local,
                element=local,
                namespace=namespace or "(none)",
            ),
        )
    # Unreadable XML (broken, or refused for a DOCTYPE): route it by what it names, so the
    # right parser reports the precise problem.
    text = data[:4096].decode("utf-8", "ignore")
    if "urn:oasis:names:tc:emergency:cap" in text or re.search(r"<(\w+:)?alert[\s>]", text):
        return Detection(format="cap")
    if DATEX2_NAMESPACE_PREFIX in text:
        return Detection(format="datex2")
    return Detection(format="cap" if declared in (None, "xml") else declared)


def _detect_json(data: bytes) -> str:
    try:
        document: Any = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return "json"  # the JSON parser reports the syntax error
    if (
        isinstance(document, dict)
        and "header" in document
        and ("entity" in document or _gtfs_header(document))
    ):
        return "gtfs-rt-json"
    return "json"


def _gtfs_header(document: dict[str, Any]) -> bool:
    header = document.get("header")
    return isinstance(header, dict) and ("gtfsRealtimeVersion" in header or "gtfs_realtime_version" in header)


def _is_feed_message(data: bytes) -> bool:
    """Binary protobuf has no magic number: it is a feed if it decodes with a versioned header."""
    if data.startswith(_BOMS):
        return False
    message = gtfs.FeedMessage()
    try:
        message.ParseFromString(data)
    except (DecodeError, ValueError, RecursionError):
        return False
    return message.HasField("header") and bool(message.header.gtfs_realtime_version)


def _excerpt(data: bytes) -> str:
    return data[:200].decode("utf-8", "replace")

"""Hostile and broken requests never make the intake API fail: always 202 or a 4xx with reasons.

Pure tier: the real app and parsers, an in-memory producer (no broker), so thousands of
examples run in seconds. The contract checked on every answer: no 5xx, no exception, no
hang (a per-example deadline); a refusal has an error and problems naming a rule; a refusal
that reached parsing (400/422) was also written to incidents.rejected; a 202 produced each
incident under its key.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from conftest import PROBLEM_SHAPE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from test_ingest_fuzz import HOSTILE_DOCUMENTS, HOSTILE_TEXT, lone_surrogate_inside

from alertcast.models.alert import Rejection
from alertcast.models.incident import Incident
from alertcast.web.app import WebConfig, create_app, openapi_document, write_openapi
from alertcast.web.keys import SourceKey, SourcesConfig, new_key
from alertcast.web.producer import Message

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "samples"
EXAMPLES = ROOT / "deploy" / "examples"
XML = [p.read_bytes() for d in ("cap", "datex2", "feeds") for p in sorted((SAMPLES / d).iterdir())]
CAP = [p.read_bytes() for p in sorted((SAMPLES / "cap").glob("*.xml")) if not p.name.startswith("invalid-")]
PROTOBUF = [p.read_bytes() for p in sorted((SAMPLES / "gtfs-rt").glob("*.pb"))]
EXAMPLE = json.loads((EXAMPLES / "01-road-closure-d934.json").read_text())
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/cap+xml",
    "application/xml",
    "text/xml",
    "application/x-protobuf",
    "application/octet-stream",
    "application/geo+json",
]
REFUSED_TYPES = [
    "text/plain",
    "image/png",
    "multipart/form-data; boundary=x",
    "",
    "application/x-www-form-urlencoded",
]
SMALL_LIMIT = 4096
KEY = new_key("fuzz")
SMALL = new_key("small")

FUZZ = settings(
    max_examples=400,
    deadline=timedelta(seconds=5),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


class FakeProducer:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send_all(self, messages: list[Message]) -> None:
        self.messages += messages


class Api:
    """A synchronous face on the ASGI app (hypothesis drives plain functions), lifespan included."""

    def __init__(self, portal: BlockingPortal, app: Starlette, producer: FakeProducer) -> None:
        self.portal = portal
        self.producer = producer
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake.test")

    def post(self, body: bytes, headers: dict[str, Any]) -> httpx.Response:
        return self.portal.call(partial(self.client.post, "/api/v1/incidents", content=body, headers=headers))


@contextmanager
def running(app: Starlette, producer: FakeProducer) -> Iterator[Api]:
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(app.router.lifespan_context(app)),
    ):
        api = Api(portal, app, producer)
        try:
            yield api
        finally:
            portal.call(api.client.aclose)


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    producer = FakeProducer()
    config = WebConfig(
        sources=SourcesConfig(
            sources=[
                SourceKey(name="fuzz", key_sha256=KEY.key_sha256, rate_per_minute=10**9),
                SourceKey(
                    name="small",
                    key_sha256=SMALL.key_sha256,
                    rate_per_minute=10**9,
                    max_body_bytes=SMALL_LIMIT,
                ),
            ]
        )
    )
    with running(create_app(config, producer=producer, follow_topics=False), producer) as api:
        yield api


def post(api: Api, body: bytes, content_type: str, key: str = KEY.key) -> httpx.Response:
    before = len(api.producer.messages)
    headers = {"Authorization": f"Bearer {key}"}
    if content_type:
        headers["Content-Type"] = content_type
    response = api.post(body, headers)
    check(response, api.producer.messages[before:])
    return response


def check(response: httpx.Response, produced: list[Message]) -> None:
    assert response.status_code in (202, 400, 401, 413, 415, 422), response.text
    body: dict[str, Any] = response.json()
    if response.status_code == 202:
        keys = {incident["key"] for incident in body["incidents"]}
        assert keys and {m.key.decode() for m in produced if m.key} == keys
        for message in produced:
            assert message.topic == "incidents.submitted"
            assert dict(message.headers)["content-type"] == b"application/json"
            Incident.model_validate_json(message.value)
        return
    assert isinstance(body["error"], str) and body["problems"]
    for problem in body["problems"]:
        assert set(problem) == PROBLEM_SHAPE and problem["rule"]
    rejections = [m for m in produced if m.topic == "incidents.rejected"]
    assert len(rejections) == (1 if response.status_code in (400, 422) else 0)
    assert len(produced) == len(rejections)
    for message in rejections:  # the topic holds the same reasons, and the payload, readable
        rejection = Rejection.model_validate_json(message.value)
        assert [p.model_dump(mode="json") for p in rejection.problems] == body["problems"]


@FUZZ
@given(st.binary(max_size=4096), st.sampled_from(CONTENT_TYPES + REFUSED_TYPES))
def test_random_bytes_under_each_content_type(api: Api, data: bytes, content_type: str) -> None:
    response = post(api, data, content_type)
    if content_type in REFUSED_TYPES:
        assert response.status_code == 415


@FUZZ
@given(st.sampled_from(XML), st.integers(min_value=0, max_value=200_000), st.sampled_from(CONTENT_TYPES))
def test_truncated_real_documents(api: Api, document: bytes, cut: int, content_type: str) -> None:
    post(api, document[: cut % len(document)], content_type)


@FUZZ
@given(
    st.sampled_from(CAP),
    st.sampled_from(["urn:oasis:names:tc:emergency:cap:1.2", "urn:oasis:names:tc:emergency:cap:1.1"]),
    st.sampled_from(["", "urn:oasis:names:tc:emergency:cap:9.9", "http://example.org/cap", "urn:x"]),
    st.integers(min_value=0),
    st.binary(min_size=1, max_size=8),
)
def test_wrong_namespaces_and_spliced_bytes(
    api: Api, document: bytes, namespace: str, other: str, position: int, noise: bytes
) -> None:
    post(api, document.replace(namespace.encode(), other.encode()), "application/cap+xml")
    at = position % len(document)
    post(api, document[:at] + noise + document[at + len(noise) :], "application/cap+xml")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
DATES = st.sampled_from(
    [
        "2026-02-30T07:00:00+01:00",
        "2026-12-03T25:00:00Z",
        "2026-12-03T07:00:00",
        "yesterday",
        "",
        "2026-13-01",
    ]
)
FIELDS = [
    "identifier",
    "sender",
    "sent",
    "status",
    "msg_type",
    "scope",
    "references",
    "info",
    "source",
    "extra",
]
INFO_FIELDS = ["category", "event", "headline", "description", "onset", "expires", "areas", "language", "web"]


@FUZZ
@given(
    st.sampled_from(FIELDS),
    st.sampled_from(INFO_FIELDS),
    JSON_VALUES | DATES | st.integers(min_value=0, max_value=30_000).map(lambda n: "x" * n),
    st.booleans(),
)
def test_mutated_json_incidents(api: Api, field: str, info_field: str, value: Any, in_info: bool) -> None:
    document = json.loads(json.dumps(EXAMPLE))
    if in_info:
        document["info"][0][info_field] = value
    else:
        document[field] = value
    post(api, json.dumps(document).encode(), "application/json")


@FUZZ
@given(
    st.sampled_from(PROTOBUF),
    st.integers(min_value=0),
    st.integers(min_value=0, max_value=255),
    st.booleans(),
)
def test_damaged_gtfs_rt_protobuf(api: Api, feed: bytes, position: int, byte: int, truncate: bool) -> None:
    at = position % len(feed)
    damaged = feed[:at] if truncate else feed[:at] + bytes([byte]) + feed[at + 1 :]
    post(api, damaged, "application/x-protobuf")


@settings(max_examples=100, deadline=timedelta(seconds=5), database=None)
@given(st.integers(min_value=0, max_value=3 * SMALL_LIMIT))
def test_body_size_limit_per_key(size: int) -> None:
    producer = FakeProducer()
    config = WebConfig(
        sources=SourcesConfig(
            sources=[SourceKey(name="small", key_sha256=SMALL.key_sha256, max_body_bytes=SMALL_LIMIT)]
        )
    )
    with running(create_app(config, producer=producer, follow_topics=False), producer) as api:
        response = api.post(
            b"{" + b" " * size + b"}", {"X-API-Key": SMALL.key, "Content-Type": "application/json"}
        )
    check(response, producer.messages)
    assert (response.status_code == 413) == (size + 2 > SMALL_LIMIT)


@FUZZ
@given(st.text(max_size=80), st.sampled_from(["Authorization", "X-API-Key"]))
def test_random_credentials_are_refused(api: Api, credential: str, header: str) -> None:
    response = api.post(b"{}", {header: credential.encode("utf-8"), "Content-Type": "application/json"})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    check(response, [])


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol4;</identifier></alert>"""


def test_billion_laughs_and_xxe_are_refused_unread(api: Api) -> None:
    for document in (BILLION_LAUGHS, (SAMPLES / "cap" / "invalid-xxe-doctype-entities.xml").read_bytes()):
        for content_type in ("application/cap+xml", "application/xml", "application/json"):
            response = post(api, document, content_type)
            assert response.status_code == 400
            assert response.json()["problems"][0]["rule"] == "xml_forbidden_construct"


def test_every_real_sample_gets_an_answer_with_reasons(api: Api) -> None:
    for path in sorted(p for d in ("cap", "datex2", "gtfs-rt", "feeds") for p in (SAMPLES / d).iterdir()):
        response = post(
            api, path.read_bytes(), "application/x-protobuf" if path.suffix == ".pb" else "application/xml"
        )
        expected = (400, 422) if path.name.startswith("invalid-") or path.parent.name == "feeds" else (202,)
        assert response.status_code in expected, (path.name, response.text)


def test_shipped_openapi_is_current_and_its_references_resolve() -> None:
    assert not write_openapi(check=True), "deploy/openapi.json is stale: run `alertcast web openapi`"
    document = openapi_document()
    references = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(document)))
    assert references and references <= set(document["components"]["schemas"])


# --- issue #16: lone surrogates, overlong UTF-8, NUL bytes, mixed encodings ----------------------

SURROGATE_BODY = b'{"identifier": "\\ud800"}'


@pytest.mark.parametrize("content_type", ["application/json", "application/xml", "application/x-protobuf"])
def test_a_lone_surrogate_escape_is_refused_with_the_error_shape(api: Api, content_type: str) -> None:
    """`{"identifier": "\\ud800"}` answered 500: the refusal could not be encoded back to UTF-8."""
    before = len(api.producer.messages)
    response = post(api, SURROGATE_BODY, content_type)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_document"
    [problem] = body["problems"]
    assert (problem["path"], problem["value"], problem["rule"]) == (
        "identifier",
        "\\ud800",
        "unpaired_surrogate",
    )
    assert "surrogate" in body["problems"][0]["message"] and body["problems"][0]["hint"]
    [message] = api.producer.messages[before:]
    assert message.topic == "incidents.rejected"
    rejection = Rejection.model_validate_json(message.value)
    assert rejection.raw == SURROGATE_BODY.decode()  # the raw bytes are kept, byte for byte here
    assert rejection.source == "fuzz" and rejection.problems[0].rule == "unpaired_surrogate"


def test_surrogates_as_bytes_keys_and_deep_in_a_document(api: Api) -> None:
    document = json.loads(json.dumps(EXAMPLE))
    document["info"][0]["headline"] = "Route fermée \udc00"
    document["info"][0]["areas"][0]["\ud83d"] = 1
    raw = json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")
    response = post(api, raw, "application/json")
    assert response.status_code == 422
    assert {(p["path"], p["rule"]) for p in response.json()["problems"]} == {
        ("info.0.headline", "unpaired_surrogate"),
        ("info.0.areas.0.\\ud83d", "unpaired_surrogate"),
    }
    rejection = Rejection.model_validate_json(api.producer.messages[-1].value)
    assert rejection.raw == raw.decode("utf-8", "replace")  # what UTF-8 cannot hold is replaced, never raised
    assert (
        rejection.raw_base64 is not None and base64.b64decode(rejection.raw_base64) == raw
    )  # and kept exact


@pytest.mark.parametrize(
    ("body", "status", "rule"),
    [
        (b'{"identifier": "\xc0\xaf"}', 400, "json_syntax"),  # overlong UTF-8
        (b'{"identifier": "caf\xe9"}', 400, "json_syntax"),  # latin-1 in UTF-8
        (b'{"identifier": "a\x00b"}', 400, "json_syntax"),  # a raw NUL is no JSON
        (b"\xff\xfe" + b'{"identifier": "x"}', 400, "json_syntax"),  # a BOM that lies
        (b"[" * 5000, 400, "json_syntax"),  # nested deeper than Python recurses
    ],
)
def test_broken_encodings_are_refused_unread(api: Api, body: bytes, status: int, rule: str) -> None:
    response = post(api, body, "application/json")
    assert response.status_code == status
    assert {p["rule"] for p in response.json()["problems"]} == {rule}


def test_a_utf16_document_with_its_bom_is_read(api: Api) -> None:
    response = post(api, json.dumps(EXAMPLE).encode("utf-16"), "application/json")
    assert response.status_code == 202, response.text


@FUZZ
@given(HOSTILE_DOCUMENTS, st.sampled_from(CONTENT_TYPES))
def test_hostile_text_under_each_content_type(api: Api, data: bytes, content_type: str) -> None:
    response = post(api, data, content_type)
    if lone_surrogate_inside(data):
        assert response.status_code == 422
        assert "unpaired_surrogate" in {p["rule"] for p in response.json()["problems"]}


@FUZZ
@given(st.sampled_from(FIELDS), HOSTILE_TEXT, st.sampled_from(["key", "value"]))
def test_hostile_text_in_every_field(api: Api, field: str, text: str, where: str) -> None:
    document = json.loads(json.dumps(EXAMPLE))
    if where == "key":
        document[text] = document.pop(field, "x")
    else:
        document[field] = text
    post(api, json.dumps(document).encode(), "application/json")

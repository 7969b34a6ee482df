"""`alertcast web`: the Starlette application, its lifespan (producer, read model) and its OpenAPI.

The OpenAPI document is built from the same pydantic models the routes answer with, and is
also shipped as `deploy/openapi.json` (a test checks it is current), so client authors can
read it without running anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from alertcast import __version__
from alertcast.models.incident import Incident
from alertcast.models.problem import Problem
from alertcast.settings import ROOT, Settings, get_settings
from alertcast.web.console import Console, ConsoleConfig
from alertcast.web.errors import ApiError, http_exception, unexpected
from alertcast.web.intake import API, MEDIA_TYPES, Health, IncidentState, Intake, ReadModel, Submitted
from alertcast.web.keys import KeyRing, SourcesConfig, load_sources
from alertcast.web.producer import KafkaProducer, Producer, follow
from alertcast.web.ratelimit import RateLimiter
from alertcast.web.subscribe import Subscribe, SubscribeConfig

log = logging.getLogger(__name__)

OPENAPI_PATH = ROOT / "deploy" / "openapi.json"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


class WebConfig(BaseModel):
    """What the web process needs; `from_settings` reads it from the one settings object."""

    bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = ""
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1)
    sources: SourcesConfig = Field(default_factory=SourcesConfig)

    @classmethod
    def from_settings(cls, settings: Settings) -> WebConfig:
        # getattr: these settings fields are added with `alertcast web` (see the web README section).
        sources_file: Path | None = settings.sources_file
        sources_text: str = settings.sources
        return cls(
            bootstrap=settings.bootstrap,
            topic_prefix=settings.topic_prefix,
            max_body_bytes=settings.web_max_body_bytes,
            sources=load_sources(sources_file, sources_text),
        )

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"


def create_app(
    config: WebConfig | None = None,
    *,
    settings: Settings | None = None,
    producer: Producer | None = None,
    follow_topics: bool = True,
    monotonic: Callable[[], float] = time.monotonic,
    console_config: ConsoleConfig | None = None,
    subscribe_config: SubscribeConfig | None = None,
) -> Starlette:
    """The intake app, the console (/console) and the public subscribe endpoints (/subscribe,
    when a subscription secret is set). Given a `producer` (tests), it is used as is;
    `follow_topics=False` skips the read models' consumer, so the app then needs no broker."""
    config = config or WebConfig.from_settings(settings or get_settings())
    kafka_producer = producer or KafkaProducer(config.bootstrap)
    read_model = ReadModel()
    intake = Intake(
        keys=KeyRing(config.sources),
        limiter=RateLimiter(monotonic),
        producer=kafka_producer,
        read_model=read_model,
        submitted_topic=config.topic("incidents.submitted"),
        rejected_topic=config.topic("incidents.rejected"),
        max_body_bytes=config.max_body_bytes,
    )
    accepted_topic, rejected_topic = config.topic("incidents.accepted"), config.topic("incidents.rejected")
    console_config = console_config or ConsoleConfig.from_settings(settings or get_settings())
    console_config.source_names = [source.name for source in config.sources.sources]
    console = Console(console_config, kafka_producer, config.topic)
    subscribe_config = subscribe_config or SubscribeConfig.from_settings(settings or get_settings())
    subscribe = (
        Subscribe(subscribe_config, kafka_producer, config.topic, monotonic) if subscribe_config else None
    )
    if subscribe is None:
        log.info("public subscribe endpoints off: no ALERTCAST_SUBSCRIPTION_SECRET")
    followed = list(
        dict.fromkeys(
            [accepted_topic, rejected_topic, *console.topics.all(), *([subscribe.topic] if subscribe else [])]
        )
    )

    def on_message(topic: str, key: bytes | None, value: bytes) -> None:
        if topic == accepted_topic:
            read_model.on_accepted(value)
        elif topic == rejected_topic:
            read_model.on_rejected(key, value)
        console.on_message(topic, key, value)
        if subscribe is not None:
            subscribe.on_message(topic, key, value)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await kafka_producer.start()
        reader: asyncio.Task[None] | None = None
        if follow_topics:
            ready = asyncio.Event()
            reader = asyncio.create_task(follow(config.bootstrap, followed, on_message, ready))
            await _first_of(ready, reader)
        try:
            yield
        finally:
            if reader is not None:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
            await kafka_producer.stop()

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document())

    app = Starlette(
        routes=[
            Route(f"{API}/incidents", intake.submit, methods=["POST"]),
            Route(f"{API}/incidents/{{incident_id}}", intake.status, methods=["GET"]),
            Route(f"{API}/openapi.json", openapi, methods=["GET"]),
            Route("/healthz", _health, methods=["GET"]),
            *console.routes,
            *(subscribe.routes if subscribe else []),
        ],
        exception_handlers={HTTPException: http_exception, Exception: unexpected},
        lifespan=lifespan,
    )
    app.state.console = console
    app.state.subscribe = subscribe
    return app


async def _health(request: Request) -> Response:
    return JSONResponse(Health().model_dump())


async def _first_of(ready: asyncio.Event, reader: asyncio.Task[None]) -> None:
    """Wait until the read model's consumer runs; if it fails to start, fail the start with it."""
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait({waiter, reader}, return_when=asyncio.FIRST_COMPLETED)
    if reader in done:
        waiter.cancel()
        reader.result()  # raises why the consumer could not start


def openapi_document() -> dict[str, Any]:
    """OpenAPI 3.1 from the pydantic models (their JSON Schemas are OpenAPI 3.1 schemas)."""
    models: list[type[BaseModel]] = [Incident, Submitted, IncidentState, ApiError, Problem, Health]
    _, schemas = models_json_schema(
        [(model, "serialization" if model is not Incident else "validation") for model in models],
        ref_template="#/components/schemas/{model}",
    )

    def ref(model: type[BaseModel]) -> dict[str, str]:
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    def answer(
        description: str, model: type[BaseModel], headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "description": description,
            "content": {"application/json": {"schema": ref(model)}},
        }
        if headers:
            body["headers"] = {
                name: {"description": text, "schema": {"type": "string"}} for name, text in headers.items()
            }
        return body

    documents = {"type": "string", "description": "the document as the publisher wrote it"}
    binary = {"type": "string", "contentMediaType": "application/octet-stream"}
    request_content: dict[str, Any] = {
        "application/json": {"schema": {"oneOf": [ref(Incident), {"type": "array", "items": ref(Incident)}]}},
    }
    for media in MEDIA_TYPES:
        if media not in request_content and media != "text/json":
            request_content[media] = {
                "schema": binary if "protobuf" in media or "octet" in media else documents
            }
    auth_answers = {
        "401": answer(
            "no key, an unknown key or a revoked key", ApiError, {"WWW-Authenticate": "Bearer challenge"}
        ),
        "429": answer("over this source's rate", ApiError, {"Retry-After": "seconds to wait"}),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "alertcast intake API",
            "version": __version__,
            "description": "Submit incidents (alertcast JSON, CAP 1.2/1.1 XML, DATEX II XML, GTFS-Realtime "
            "protobuf or JSON) and follow what the worker made of them. Every error has one shape: "
            "{error, problems: [{path, value, rule, message, hint}]}.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"apiKey": []}],
        "paths": {
            f"{API}/incidents": {
                "post": {
                    "operationId": "submitIncidents",
                    "summary": "Submit one document holding one or more incidents",
                    "description": "All or nothing: 202 means Kafka holds every incident of the document; "
                    "a refusal lists every problem and is also written to incidents.rejected.",
                    "requestBody": {"required": True, "content": request_content},
                    "responses": {
                        "202": answer("accepted for processing; follow status_url", Submitted),
                        "400": answer("unreadable: not JSON, broken XML, not protobuf, empty", ApiError),
                        **auth_answers,
                        "413": answer("larger than this source's limit", ApiError),
                        "415": answer("a Content-Type alertcast does not read", ApiError),
                        "422": answer("read, but invalid: every problem is listed", ApiError),
                        "503": answer(
                            "Kafka unavailable; retry", ApiError, {"Retry-After": "seconds to wait"}
                        ),
                    },
                }
            },
            f"{API}/incidents/{{incident_id}}": {
                "get": {
                    "operationId": "getIncident",
                    "summary": "An incident's state and versions, as the worker decided them",
                    "parameters": [
                        {
                            "name": "incident_id",
                            "in": "path",
                            "required": True,
                            "description": "the id of the 202 answer (alert_id_for(incident key))",
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": answer("known to this source", IncidentState),
                        **auth_answers,
                        "404": answer("unknown, or submitted by another source", ApiError),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "security": [],
                    "responses": {"200": answer("the process answers", Health)},
                }
            },
            f"{API}/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "security": [],
                    "responses": {"200": {"description": "this document"}},
                }
            },
        },
        "components": {
            "schemas": schemas["$defs"],
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <key>"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }


def render_openapi() -> str:
    return json.dumps(openapi_document(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def write_openapi(path: Path = OPENAPI_PATH, check: bool = False) -> bool:
    """True when the file was stale (and, unless `check`, is now rewritten)."""
    text = render_openapi()
    stale = not path.exists() or path.read_text(encoding="utf-8") != text
    if stale and not check:
        path.write_text(text, encoding="utf-8")
    return stale


def serve(settings: Settings, port: int) -> None:
    """`alertcast web`: uvicorn on 127.0.0.1 only; blocks until stopped (SIGINT/SIGTERM)."""
    import uvicorn

    level = {"warn": "warning", "crit": "critical"}.get(settings.log_level, settings.log_level)
    # A factory, so the app (and its aiokafka producer) is made inside uvicorn's event loop.
    uvicorn.run(
        lambda: create_app(settings=settings), factory=True, host="127.0.0.1", port=port, log_level=level
    )

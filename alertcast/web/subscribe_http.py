"""What the public subscribe endpoints check on every request, before reading what it asks.

Anyone on the Internet calls them, without a key: so a client is its address (an IPv6 client
its /64, which one machine usually holds whole), a body is read only up to a small limit, and
a form or JSON body is turned into plain fields or into Problems, never into an exception.

No cookie is set or read, so there is no session to forge (no CSRF token); yet a page on
another site could make its visitors' browsers post e-mail subscriptions, spending our mail
reputation on addresses of its choice from thousands of addresses at once. Browsers say where
a request comes from (`Origin`, `Sec-Fetch-Site`): a write from another site is refused unless
that site is ours (the public site may live on another host than alertcast web). Requests
without those headers are not browsers' and go through the rate limits like any other.
"""

from __future__ import annotations

import ipaddress
import json
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import ClientDisconnect, Request

from alertcast.errors import AlertcastError
from alertcast.i18n import N_
from alertcast.models.problem import Problem

MAX_FIELDS = 200  # form fields (60 areas is already too many: the model allows 50)
MAX_DEPTH = 20  # nesting of a JSON body: a PushSubscription is 3 deep


class Refused(AlertcastError):
    """A request refused before any work: the handler answers `status` with `problems`.
    Raised only inside this module's helpers and caught by the handler that called them."""

    def __init__(self, status: int, error: str, problems: list[Problem], retry_after: int = 0) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.problems = problems
        self.retry_after = retry_after


def refused(
    status: int, error: str, path: str, value: Any, rule: str, message: str, hint: str = "", /, **params: Any
) -> Refused:
    """A refusal worded by msgids (`Problem.said`)."""
    return Refused(status, error, [Problem.said(path, rule, message, hint, value=value, **params)])


def client_key(request: Request) -> str:
    """The client's address, an IPv6 one as its /64 (a rate per address would otherwise be
    a rate per 2^64 addresses of one host)."""
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def origin_of(url: str) -> str | None:
    """scheme://host[:port] of a URL, as browsers write `Origin`; None for no URL."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def foreign_origin(request: Request, allowed: frozenset[str]) -> str | None:
    """The origin of a browser request from a site that is not ours (else None). The browser's
    own `Sec-Fetch-Site: same-origin` settles it; else an `Origin` on the request's host, or
    listed in `allowed`, is ours (behind a proxy the scheme may differ, so the host decides)."""
    site = request.headers.get("sec-fetch-site", "").strip().lower()
    if site in ("same-origin", "none"):  # "none": typed or bookmarked by the citizen
        return None
    origin = request.headers.get("origin")
    if origin is None or origin.strip().lower() == "null":
        # Browsers send Origin on every POST ("null" from sandboxes and some privacy modes).
        return "(cross-site)" if origin is not None or site == "cross-site" else None
    normalised = origin_of(origin) or origin.strip().lower()
    if normalised in allowed:
        return None
    host = request.headers.get("host", "").strip().lower()
    if host and urlsplit(normalised).netloc == host:
        return None
    return origin[:100]


def cors_origin(request: Request, allowed: frozenset[str]) -> str | None:
    """The origin to name in Access-Control-Allow-Origin: one of ours, on another host."""
    origin = request.headers.get("origin")
    normalised = origin_of(origin) if origin else None
    return origin if normalised is not None and normalised in allowed else None


def wants_html(request: Request) -> bool:
    """A browser navigating (a plain form, a link) asks for HTML; scripts and tools get JSON."""
    return "text/html" in request.headers.get("accept", "").lower()


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or `Refused` 413 as soon as it is known to be larger than `limit`."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise refused(
                400,
                "bad_request",
                "Content-Length",
                declared[:50],
                "content_length",
                N_("not a number"),
                N_("send the body's length in bytes"),
            )
        if int(declared) > limit:
            raise _too_large(int(declared), limit)
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise _too_large(len(body), limit)
    except ClientDisconnect:
        raise refused(400, "bad_request", "", None, "client_disconnect", N_("the body ended early")) from None
    return bytes(body)


def _too_large(size: int, limit: int) -> Refused:
    return refused(
        413,
        "body_too_large",
        "",
        size,
        "body_too_large",
        N_("the body is larger than %(limit)s bytes"),
        N_("send only the fields of the form"),
        limit=limit,
    )


@dataclass
class Fields:
    """A form or a JSON object, as lists of values per name (a form repeats `areas`)."""

    values: dict[str, list[Any]] = field(default_factory=dict)

    def first(self, *names: str) -> Any:
        for name in names:
            if self.values.get(name):
                return self.values[name][0]
        return None

    def all(self, name: str) -> list[Any]:
        return list(self.values.get(name, []))


def parse_fields(body: bytes, content_type: str) -> Fields:
    """A urlencoded form or a JSON object; anything else is refused (400, 415)."""
    media = content_type.split(";")[0].strip().lower()
    if media == "application/x-www-form-urlencoded" or (not media and not body.strip()):
        try:
            pairs = parse_qsl(
                body.decode("utf-8"),
                keep_blank_values=True,
                max_num_fields=MAX_FIELDS,
                encoding="utf-8",
                errors="strict",
            )
        except (UnicodeDecodeError, ValueError) as error:
            raise refused(
                400,
                "unreadable",
                "",
                None,
                "form_syntax",
                N_("not a form: %(error)s"),
                N_("send a urlencoded form in UTF-8"),
                error=str(error)[:100],
            ) from None
        found = Fields()
        for name, value in pairs:
            found.values.setdefault(name, []).append(value)
        return found
    if media == "application/json" or media.endswith("+json"):
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as error:
            raise refused(
                400,
                "unreadable",
                "",
                None,
                "json_syntax",
                N_("not JSON: %(error)s"),
                N_("send a JSON object in UTF-8"),
                error=str(error)[:100],
            ) from None
        if not isinstance(data, dict):
            raise refused(
                400,
                "unreadable",
                "",
                type(data).__name__,
                "json_object",
                N_("the body must be a JSON object"),
                N_('send {"areas": [...], ...}'),
            )
        if _depth(data) > MAX_DEPTH:
            raise refused(400, "unreadable", "", None, "json_depth", N_("the JSON is nested too deep"))
        return Fields(
            {str(name): value if isinstance(value, list) else [value] for name, value in data.items()}
        )
    raise refused(
        415,
        "unsupported_media_type",
        "Content-Type",
        content_type[:100] or None,
        "media_type",
        N_("this endpoint does not read '%(media)s'"),
        N_("send application/json or application/x-www-form-urlencoded"),
        media=media or "(none)",
    )


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def text_field(fields: Fields, path: str, *names: str, limit: int = 300) -> str | Problem | None:
    """One text field: None when absent; a Problem when it is not text, too long, or holds
    control characters or lone surrogates (a header or a log line could be broken by them)."""
    value = fields.first(*names)
    if value is None:
        return None
    if not isinstance(value, str):
        return Problem.said(path, "string_type", N_("not text"), N_("send text"), value=repr(value)[:60])
    if len(value) > limit:
        return Problem.said(
            path, "string_too_long", N_("longer than %(limit)s characters"), value=value[:60], limit=limit
        )
    if bad := _control(value):
        return Problem.said(
            path,
            "control_character",
            N_("holds a control character (U+%(code)s)"),
            N_("remove it"),
            value=value[:60],
            code=f"{ord(bad):04X}",
        )
    return value


def area_values(values: Iterable[Any]) -> list[str] | Problem:
    """Areas as a form sends them (one per field, or "62126, 59378") or as a JSON list."""
    codes: list[str] = []
    for index, value in enumerate(values):
        if not isinstance(value, str):
            return Problem.said(
                f"areas.{index}",
                "string_type",
                N_("an area is an INSEE code as text"),
                N_('e.g. "62126"'),
                value=repr(value)[:60],
            )
        if _control(value):
            return Problem.said(
                f"areas.{index}", "control_character", N_("holds a control character"), value=value[:60]
            )
        codes += [code.strip().upper() for code in value.replace(",", " ").split() if code.strip()]
    return list(dict.fromkeys(codes))


def _control(text: str) -> str | None:
    return next((c for c in text if unicodedata.category(c) in ("Cc", "Cs")), None)


def push_fields(fields: Fields) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The PushSubscription's endpoint and keys, as `PushSubscription.toJSON()` gives them."""
    given = fields.first("subscription")
    if given is None and fields.first("endpoint") is not None:
        given = {"endpoint": fields.first("endpoint"), "keys": fields.first("keys")}
    if not isinstance(given, dict):
        problem = Problem.said(
            "subscription",
            "push_subscription",
            N_("no PushSubscription object"),
            N_('send {"subscription": pushSubscription.toJSON(), "areas": [...]}'),
        )
        return None, [problem]
    keys: dict[str, Any] = given["keys"] if isinstance(given.get("keys"), dict) else {}
    push = {"endpoint": given.get("endpoint"), "p256dh": keys.get("p256dh"), "auth": keys.get("auth")}
    problems = [
        Problem.said(
            f"push.{name}",
            "control_character",
            N_("holds a control character"),
            N_("send the browser's values unchanged"),
        )
        for name, value in push.items()
        if isinstance(value, str) and any(ord(c) < 32 or ord(c) == 127 for c in value)
    ]
    return push, problems


def text_value(value: str | Problem | None, problems: list[Problem]) -> str | None:
    if isinstance(value, Problem):
        problems.append(value)
        return None
    return value


def unique(problems: list[Problem]) -> list[Problem]:
    return list({(p.path, p.rule): p for p in problems}.values())


def unavailable() -> Refused:
    refusal = refused(
        503,
        "unavailable",
        "",
        None,
        "unavailable",
        N_("the subscription could not be recorded now"),
        N_("retry in a few minutes"),
    )
    refusal.retry_after = 30
    return refusal

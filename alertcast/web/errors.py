"""The API's one error body, `{"error", "problems": [Problem...]}`, and the handlers that guarantee it.

A client must be able to act on every refusal, so even Starlette's own 404/405 and an
unexpected bug answer in this shape (a bug still answers 500: it is ours, not the sender's).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from alertcast.i18n import N_
from alertcast.models.problem import Problem

log = logging.getLogger(__name__)


class ApiError(BaseModel):
    """Every 4xx/5xx body of the API."""

    error: str = Field(description="short machine-readable reason, e.g. invalid_document, rate_limited")
    problems: list[Problem] = Field(default_factory=list, description="what to fix, one entry per problem")


def error_response(
    status: int, error: str, problems: list[Problem], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = ApiError(error=error, problems=problems).model_dump(mode="json")
    return JSONResponse(body, status_code=status, headers=headers)


async def http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (unknown route, wrong method) in the one shape."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        problem = Problem.said(
            request.url.path, "not_found", N_("no such resource"), N_("see /api/v1/openapi.json")
        )
        return error_response(404, "not_found", [problem])
    problem = Problem.said(
        request.url.path,
        "http_error",
        "%(error)s",
        N_("see /api/v1/openapi.json"),
        value=request.method,
        error=str(exc.detail),
    )
    return error_response(exc.status_code, "http_error", [problem], headers=exc.headers)


async def unexpected(request: Request, exc: Exception) -> Response:
    log.exception("bug while answering %s %s", request.method, request.url.path)
    problem = Problem.said(
        request.url.path,
        "internal_error",
        N_("alertcast failed to answer this request"),
        N_("retry later; if it persists, tell the alertcast operators the time of the request"),
        value=type(exc).__name__,
    )
    return error_response(500, "internal_error", [problem])

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
        problem = Problem(
            path=request.url.path,
            value=None,
            rule="not_found",
            message="no such resource",
            hint="see /api/v1/openapi.json",
        )
        return error_response(404, "not_found", [problem])
    problem = Problem(
        path=request.url.path,
        value=request.method,
        rule="http_error",
        message=str(exc.detail),
        hint="see /api/v1/openapi.json",
    )
    return error_response(exc.status_code, "http_error", [problem], headers=exc.headers)


async def unexpected(request: Request, exc: Exception) -> Response:
    log.exception("bug while answering %s %s", request.method, request.url.path)
    problem = Problem(
        path=request.url.path,
        value=type(exc).__name__,
        rule="internal_error",
        message="alertcast failed to answer this request",
        hint="retry later; if it persists, tell the alertcast operators the time of the request",
    )
    return error_response(500, "internal_error", [problem])

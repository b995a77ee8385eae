"""Errors raised below our views, as RFC 9457 problem documents too.

aiohttp answers a request it cannot parse (a bad request line, a malformed or oversized
header line) and an exception that escapes a handler from its protocol handler, with a
``text/plain`` body of its own; no view or middleware sees those requests. We wrap
``aiohttp.web_protocol.RequestHandler.handle_error`` (aiohttp's documented hook for it,
"Handle errors. Returns HTTP response with specific status code") so that they come
back as ``application/problem+json`` with a detail that names no internals. aiohttp
still logs the error and closes the connection as before. ``tests/unit/web/
test_http_errors.py`` fails if an aiohttp upgrade moves or renames the hook.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web, web_protocol

from app.errors import InternalError, MalformedRequest, ProblemError
from app.web.problem import PROBLEM_JSON

_original = web_protocol.RequestHandler.handle_error


def problem_for(status: int) -> ProblemError:
    """What we say for an error aiohttp answers itself: the status, no internals."""
    if status >= 500:
        error: ProblemError = InternalError("the request could not be handled; it was logged")
        error.status = status
        return error
    error = MalformedRequest(
        "the request line or a header could not be parsed, or a header line is too long"
    )
    error.status = status
    return error


def handle_error(
    self: Any,
    request: Any,
    status: int = 500,
    exc: BaseException | None = None,
    message: str | None = None,
) -> web.StreamResponse:
    _original(self, request, status, exc, message)  # logs it; raises if a response began
    problem = problem_for(status)
    response = web.Response(
        status=status, body=orjson.dumps(problem.to_problem()), content_type=PROBLEM_JSON
    )
    response.force_close()
    return response


def install() -> None:
    """Make aiohttp's own error answers problem documents (once per process)."""
    web_protocol.RequestHandler.handle_error = handle_error  # type: ignore[method-assign]

"""RFC 9457 problem details: views raise ProblemError, this base view renders it."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from faust import web

from app.errors import ProblemError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class ProblemView(web.View):
    """A view whose ProblemErrors become ``application/problem+json`` responses."""

    async def dispatch(self, request: Any) -> Any:
        try:
            return await super().dispatch(request)
        except ProblemError as exc:
            return self.problem(exc, request.path)

    def problem(self, exc: ProblemError, instance: str | None = None) -> web.Response:
        return self.bytes(
            orjson.dumps(exc.to_problem(instance)),
            content_type=PROBLEM_JSON,
            status=exc.status,
            headers=exc.headers,
        )

    def json_bytes(
        self, value: Any, *, status: int = 200, headers: dict[str, str] | None = None
    ) -> web.Response:
        return self.bytes(
            orjson.dumps(value), content_type="application/json", status=status, headers=headers
        )

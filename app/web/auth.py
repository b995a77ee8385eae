"""Access control of the read API (and, as they arrive, of every admin endpoint).

When ``AT_STREAM_API_TOKEN`` is set, these views answer only requests with
``Authorization: Bearer <token>``; the token is compared in constant time, and every
refused attempt is counted in ``at_stream_api_auth_failures_total{view}``. Without a
token configured they are open (a development default; ``make run`` writes a random
token to ``.env``). Behind a proxy that terminates mTLS, leave the token set: the proxy
forwards the header. The webhook has its own authentication (the signature schemes);
health, readiness, metrics and the OpenAPI document stay open for probes and scrapers.

Writes (:class:`WriteView`: the kill switch, order cancels) are never open: without a
token configured they answer 403 ``writes-disabled``.
"""

from __future__ import annotations

import hmac
from typing import Any

from prometheus_client import Counter

from app.errors import TokenRequired, WritesDisabled
from app.settings import get_settings
from app.web.problem import ProblemView

AUTH_FAILURES = Counter(
    "at_stream_api_auth_failures_total",
    "Requests to the token-protected API refused for a missing or wrong token, by view.",
    ["view"],
)


def authorized(header: str | None, token: str) -> bool:
    """``Authorization: Bearer <token>``, compared in constant time."""
    scheme, _, given = (header or "").partition(" ")
    matches = hmac.compare_digest(given.strip().encode(), token.encode())
    return scheme.lower() == "bearer" and matches


class ProtectedView(ProblemView):
    """A view that wants the API token once one is configured."""

    async def dispatch(self, request: Any) -> Any:
        token = get_settings().api_token
        if token is not None and not authorized(
            request.headers.get("Authorization"), token.get_secret_value()
        ):
            AUTH_FAILURES.labels(view=type(self).__name__).inc()
            return self.problem(
                TokenRequired(
                    "send Authorization: Bearer <AT_STREAM_API_TOKEN>",
                    headers={"WWW-Authenticate": 'Bearer realm="at-stream"'},
                ),
                request.path,
            )
        return await super().dispatch(request)


def peer_headers(request: Any) -> dict[str, str]:
    """What a worker passes on when it asks its peers for their part of an answer."""
    given = request.headers.get("Authorization")
    return {"Authorization": given} if given else {}


class WriteView(ProtectedView):
    """A view that changes trading state: its writes want the API token, and one
    configured (its reads are a :class:`ProtectedView`'s)."""

    async def dispatch(self, request: Any) -> Any:
        if request.method not in ("GET", "HEAD") and get_settings().api_token is None:
            AUTH_FAILURES.labels(view=type(self).__name__).inc()
            return self.problem(
                WritesDisabled("set AT_STREAM_API_TOKEN on the worker to enable this endpoint"),
                request.path,
            )
        return await super().dispatch(request)

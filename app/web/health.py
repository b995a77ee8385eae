"""Liveness, readiness and metrics."""

from __future__ import annotations

from typing import Any

from faust import web
from prometheus_client import generate_latest

from app.errors import NotReady
from app.lifecycle import drain
from app.observe import broker_unreachable
from app.web.problem import ProblemView
from app.web.routing import ready

blueprint = web.Blueprint("health")


@blueprint.route("/healthz", name="healthz")
class Healthz(ProblemView):
    """The process is alive and its event loop answers."""

    async def get(self, request: web.Request) -> web.Response:
        return self.json_bytes({"status": "ok"})


@blueprint.route("/readyz", name="readyz")
class Readyz(ProblemView):
    """The broker answers and this worker has its partitions."""

    async def get(self, request: web.Request) -> web.Response:
        app: Any = self.app
        if drain.draining:
            raise NotReady("worker is stopping", headers={"Retry-After": "1"})
        why = await broker_unreachable(app)
        if why is not None:
            raise NotReady(f"broker unreachable: {why}", headers={"Retry-After": "1"})
        if not ready(app):
            raise NotReady("recovering, rebalancing or unassigned", headers={"Retry-After": "1"})
        return self.json_bytes({"status": "ready", "partitions": len(app.consumer.assignment())})


@blueprint.route("/metrics", name="metrics")
class Metrics(ProblemView):
    async def get(self, request: web.Request) -> web.Response:
        # aiohttp refuses a charset in content_type; the exposition format is UTF-8 anyway
        return self.bytes(generate_latest(), content_type="text/plain; version=0.0.4")

"""Liveness, readiness and metrics."""

from __future__ import annotations

from typing import Any

from faust import web
from prometheus_client import generate_latest

from app.audit.health import audit_ready
from app.bridge.service import nats_ready
from app.errors import NotReady
from app.observe import broker_unreachable
from app.web.problem import ProblemView
from app.web.routing import checks

blueprint = web.Blueprint("health")


@blueprint.route("/healthz", name="healthz")
class Healthz(ProblemView):
    """The process is alive and its event loop answers."""

    async def get(self, request: web.Request) -> web.Response:
        return self.json_bytes({"status": "ok"})


@blueprint.route("/readyz", name="readyz")
class Readyz(ProblemView):
    """The broker answers, this worker has its partitions and its tables, and the enabled
    dependencies (NATS for the bridge, the audit store for the sink) answer."""

    async def get(self, request: web.Request) -> web.Response:
        app: Any = self.app
        found = {"broker_reachable": await broker_unreachable(app) is None, **checks(app)}
        nats = nats_ready()  # None: the bridge is off, NATS does not matter
        if nats is not None:
            found["nats_connected"] = nats
        audit = audit_ready()  # None: the audit sink is off
        if audit is not None:
            found["audit_store_reachable"] = audit
        failing = [name for name, ok in found.items() if not ok]
        if failing:
            raise NotReady(
                "not ready: " + ", ".join(failing) + " failing",
                headers={"Retry-After": "1"},
                extensions={"checks": found},
            )
        partitions = len(app.consumer.assignment())
        return self.json_bytes({"status": "ready", "checks": found, "partitions": partitions})


@blueprint.route("/metrics", name="metrics")
class Metrics(ProblemView):
    async def get(self, request: web.Request) -> web.Response:
        # aiohttp refuses a charset in content_type; the exposition format is UTF-8 anyway
        return self.bytes(generate_latest(), content_type="text/plain; version=0.0.4")

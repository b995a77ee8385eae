"""The audit trail's read-only HTTP API (FastAPI), served by ``at-stream audit serve``.

Its own process (uvicorn), not the worker: it needs no broker, no secret, no Faust, it
can be scaled, restarted or firewalled apart from the pipeline, and a heavy query never
shares the event loop of the webhook. It reads the store the sinks write (SQLite's WAL
lets it read while a worker writes; PostgreSQL from anywhere). Errors are RFC 9457
problem documents; with ``AT_STREAM_API_TOKEN`` set, every route but ``/healthz``, the
OpenAPI document and ``/docs`` wants ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from app.audit import reader
from app.audit.errors import StoreDown, StoreUnavailable
from app.audit.queries import CURSOR_PATTERN, Cursor, EventFilter
from app.audit.store import Store, open_store
from app.errors import InternalError, InvalidQuery, NotFound, ProblemError, TokenRequired
from app.settings import Settings, get_settings
from app.web.auth import AUTH_FAILURES, authorized
from app.web.openapi import PROBLEM
from app.web.problem import PROBLEM_JSON

log = logging.getLogger(__name__)
BEARER = HTTPBearer(auto_error=False, description="AT_STREAM_API_TOKEN")
ID = r"^[A-Za-z0-9._:\-]{1,128}$"
TOPIC = r"^[A-Za-z0-9._\-]{1,200}$"


class MethodNotAllowed(ProblemError):
    status, slug, title = 405, "method-not-allowed", "Method not allowed"


class Event(BaseModel):
    topic: str
    partition: int
    offset: int
    key: str | None
    event_type: str
    event_id: str | None
    correlation_id: str | None
    cause_id: str | None
    signal_id: str | None
    order_id: str | None
    account: str | None
    symbol: str | None
    event_time: str | None = Field(description="From the payload (received_at, created_at...)")
    broker_time: str | None = Field(description="The record's Kafka timestamp")
    ingest_time: str | None = Field(description="When the sink stored it")
    headers: dict[str, str]
    payload: Any = Field(description="The record's value, the JSON as received (null if not)")
    value_base64: str | None = Field(description="The value's bytes when it was not JSON")


class EventPage(BaseModel):
    items: list[Event]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")


class TraceStep(BaseModel):
    step: str
    at: str | None
    event_type: str | None
    topic: str | None
    partition: int | None
    offset: int | None
    event_id: str | None
    summary: str
    since_previous_ms: float | None
    since_start_ms: float | None
    position: dict[str, Any] | None


class TraceOut(BaseModel):
    id: str
    correlation_ids: list[str]
    signal_ids: list[str]
    total_ms: float | None
    steps: list[TraceStep]


def problem(exc: ProblemError, request: Request) -> Response:
    return Response(
        orjson.dumps(exc.to_problem(request.url.path)),
        status_code=exc.status,
        headers=exc.headers,
        media_type=PROBLEM_JSON,
    )


PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {
        "description": what,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for code, what in (
        (400, "A query parameter is malformed"),
        (503, "The audit store is unavailable (see Retry-After)"),
    )
}


def _utc_us(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    settings = settings or get_settings()
    token = settings.api_token.get_secret_value() if settings.api_token else None
    state: dict[str, Store] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state["store"] = store or open_store(settings.audit_store_url)
        try:  # the schema, so that a fresh store answers empty pages; the sink does it too
            await state["store"].migrate()
        except StoreUnavailable as exc:
            log.warning("audit store not reachable yet: %s", exc.reason)
        yield
        await state["store"].close()

    api = FastAPI(
        title="at-stream audit API",
        version="1",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )

    async def require_token(
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    ) -> None:
        if token is None:
            return
        header = f"{creds.scheme} {creds.credentials}" if creds else None
        if not authorized(header, token):
            AUTH_FAILURES.labels(view="audit-api").inc()
            raise TokenRequired(
                "send Authorization: Bearer <AT_STREAM_API_TOKEN>",
                headers={"WWW-Authenticate": 'Bearer realm="at-stream"'},
            )

    guarded = [Depends(require_token)] if token else []
    responses = dict(PROBLEMS)
    if token:
        responses[401] = {**PROBLEMS[400], "description": "No valid API token"}

    def db() -> Store:
        return state["store"]

    @api.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> Response:
        return problem(exc, request)

    @api.exception_handler(StoreUnavailable)
    async def _down(request: Request, exc: StoreUnavailable) -> Response:
        log.warning("audit store unavailable: %s", exc.reason)
        return problem(
            StoreDown("the audit store did not answer; retry later", headers={"Retry-After": "5"}),
            request,
        )

    @api.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {
                "pointer": "/" + "/".join(str(p) for p in e["loc"]),
                "detail": e["msg"],
                "code": e["type"],
            }
            for e in exc.errors()
        ]
        return problem(InvalidQuery(f"{len(errors)} parameter error(s)", errors=errors), request)

    @api.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        error: ProblemError = NotFound(f"no route {request.url.path}")
        if exc.status_code == 405:
            error = MethodNotAllowed("the audit API is read-only: GET only")
        elif exc.status_code != 404:
            error = InvalidQuery(str(exc.detail))
            error.status = exc.status_code
        return problem(error, request)

    @api.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("audit API error on %s", request.url.path)
        return problem(InternalError("the request could not be handled; it was logged"), request)

    @api.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get(
        "/audit/events",
        response_model=EventPage,
        responses=responses,
        dependencies=guarded,
        summary="List and filter events, oldest first",
    )
    async def list_events(
        correlation_id: Annotated[str | None, Query(pattern=ID)] = None,
        signal_id: Annotated[str | None, Query(pattern=ID)] = None,
        order_id: Annotated[str | None, Query(pattern=ID)] = None,
        fill_id: Annotated[str | None, Query(pattern=ID)] = None,
        event_id: Annotated[str | None, Query(pattern=ID)] = None,
        event_type: Annotated[str | None, Query(pattern=ID)] = None,
        account: Annotated[str | None, Query(pattern=ID)] = None,
        symbol: Annotated[str | None, Query(pattern=ID)] = None,
        topic: Annotated[str | None, Query(pattern=TOPIC)] = None,
        since: Annotated[datetime | None, Query(description="broker time >= (ISO 8601)")] = None,
        until: Annotated[datetime | None, Query(description="broker time < (ISO 8601)")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN)] = None,
    ) -> dict[str, Any]:
        f = EventFilter(
            correlation_id,
            signal_id,
            order_id,
            fill_id,
            event_id,
            event_type,
            account,
            symbol,
            topic,
            _utc_us(since),
            _utc_us(until),
        )
        after = Cursor.decode(cursor) if cursor else None
        rows, nxt = await reader.page(db(), f, limit, after)
        return {"items": [reader.event_json(r) for r in rows], "next_cursor": nxt}

    @api.get(
        "/audit/events/{topic}/{partition}/{offset}",
        response_model=Event,
        responses={**responses, 404: {**PROBLEMS[400], "description": "No such record"}},
        dependencies=guarded,
        summary="One record, by its place in the log",
    )
    async def get_event(
        topic: Annotated[str, Path(pattern=TOPIC)],
        partition: Annotated[int, Path(ge=0, le=2**31 - 1)],
        offset: Annotated[int, Path(ge=0, le=10**18)],
    ) -> dict[str, Any]:
        row = await reader.one(db(), topic, partition, offset)
        if row is None:
            raise NotFound(f"no record at {topic}[{partition}]@{offset}")
        return reader.event_json(row)

    @api.get(
        "/audit/trace/{ident}",
        response_model=TraceOut,
        responses={**responses, 404: {**PROBLEMS[400], "description": "No record has it"}},
        dependencies=guarded,
        summary="Trace of a correlation id or signal id: every step, with latencies",
    )
    async def get_trace(ident: Annotated[str, Path(pattern=ID)]) -> dict[str, Any]:
        found = await reader.trace_of(db(), ident)
        if found is None:
            raise NotFound(f"no record with correlation id or signal id {ident!r}")
        return found.as_dict()

    original = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            spec = original()
            spec.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM
            spec["paths"]["/audit/events"]["get"]["responses"].pop("422", None)
            for item in spec["paths"].values():
                item["get"]["responses"].pop("422", None)
            api.openapi_schema = spec
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
    return api


def serve(settings: Settings) -> None:
    """``at-stream audit serve``: the API under uvicorn, until SIGTERM/SIGINT."""
    import uvicorn

    uvicorn.run(
        create_app(settings),
        host=settings.audit_api_host,
        port=settings.audit_api_port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )

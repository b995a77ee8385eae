"""OpenAPI 3.1 of the webhook and the read API, generated from the models.

Served at ``/openapi.json``, with a Swagger UI page at ``/docs``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from faust import web

from app import schemes, signing
from app.decimals import POSITIVE_DECIMAL, SIGNED_DECIMAL
from app.ids import CORRELATION_ID_PATTERN, IDEMPOTENCY_KEY_PATTERN
from app.models import SignalIn
from app.order_state import OrderState
from app.positions import Position
from app.trading.commands import CancelBody
from app.trading.trading_state import TradingStateChange, TradingStateRequest
from app.web.problem import ProblemView

blueprint = web.Blueprint("openapi")

PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "pointer": {"type": "string"},
                    "detail": {"type": "string"},
                    "code": {"type": "string"},
                },
            },
        },
    },
}
ACCEPTED = {
    "type": "object",
    "required": ["status", "signal_id", "correlation_id"],
    "properties": {
        "status": {"const": "accepted"},
        "signal_id": {"type": "string", "format": "uuid"},
        "correlation_id": {"type": "string"},
        "replayed": {"type": "boolean", "description": "true when this is a replay's answer"},
    },
}
ERRORS = {
    "400": "Invalid JSON (not UTF-8, NaN, duplicate keys, nested deeper than 32) or header",
    "401": "Missing, invalid or expired signature",
    "403": "Source address not in the provider's allowlist",
    "404": "No such provider",
    "409": "A request with this Idempotency-Key is in flight",
    "413": "Body larger than the limit",
    "415": "Content type is not application/json",
    "422": "Schema violation (every field error listed) or Idempotency-Key reused",
    "429": "Provider over its rate limit (see Retry-After)",
    "503": "Broker did not acknowledge in time, or worker not ready (see Retry-After)",
}


TRADING_STATES = {
    "type": "object",
    "required": ["scopes", "partitions", "consistent"],
    "properties": {
        "scopes": {
            "type": "object",
            "description": "Per scope (an account, or * for all): its state and the change "
            "that set it.",
            "additionalProperties": {"type": "object"},
        },
        "partitions": {"type": "array", "items": {"type": "integer"}},
        "consistent": {
            "type": "boolean",
            "description": "Every partition of this worker holds the same states.",
        },
    },
}


def _header(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False,
            "schema": {"type": "string", **schema}, "description": description}  # fmt: skip


# The header rules the webhook enforces (400 invalid-header otherwise), as patterns.
CORRELATION_ID = {"pattern": CORRELATION_ID_PATTERN}
IDEMPOTENCY_KEY = {"pattern": IDEMPOTENCY_KEY_PATTERN}


def _operation(summary: str, extra_params: list[dict[str, Any]]) -> dict[str, Any]:
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    responses: dict[str, Any] = {
        "202": {
            "description": "Recorded on the signals topic (broker acknowledged, acks=all)",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}},
        }
    }
    responses.update({code: {"description": d, "content": problem} for code, d in ERRORS.items()})
    return {
        "summary": summary,
        "parameters": [
            _header(signing.TIMESTAMP_HEADER, "legacy scheme: unix seconds"),
            _header(signing.SIGNATURE_HEADER, "legacy scheme: sha256=<hex HMAC>"),
            _header(schemes.SW_ID, "standard-webhooks: message id"),
            _header(schemes.SW_TIMESTAMP, "standard-webhooks: unix seconds"),
            _header(schemes.SW_SIGNATURE, "standard-webhooks: v1,<base64> ..."),
            _header(
                "Idempotency-Key",
                "IETF idempotency key: 1-255 visible characters but '\"', optionally "
                "quoted (an sf-string); the delivery's identity",
                **IDEMPOTENCY_KEY,
            ),
            _header(
                "X-Correlation-ID",
                "8-128 chars of [A-Za-z0-9._:-]; minted if absent. For the legacy scheme it "
                "is the delivery's identity (unless an Idempotency-Key is given): a retry "
                "signed again with the same one gets the first outcome",
                **CORRELATION_ID,
            ),
            *extra_params,
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Signal"}}},
        },
        "responses": responses,
    }


# Which price fields each order type needs and refuses (SignalIn's cross-field rules).
ORDER_TYPES = {
    "market": (["price"], ["limit_price", "stop_price"]),
    "limit": (["limit_price"], ["stop_price"]),
    "stop": (["stop_price"], ["limit_price"]),
    "stop_limit": (["limit_price", "stop_price"], []),
}


def signal_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """SignalIn's JSON Schema with its cross-field rules as ``oneOf`` variants."""
    signal = SignalIn.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = signal.pop("$defs", {})
    decimal = {"type": "string", "pattern": POSITIVE_DECIMAL}
    signal["required"] = [*signal["required"], "order_type"]
    signal["oneOf"] = [
        {
            "properties": {
                "order_type": {"const": kind},
                **dict.fromkeys(need, decimal),
                **dict.fromkeys(refuse, False),
            },
            "required": need,
        }
        for kind, (need, refuse) in ORDER_TYPES.items()
    ]
    side = {"$ref": "#/components/schemas/Side"}
    target = {"type": "string", "pattern": SIGNED_DECIMAL}
    signal["allOf"] = [{"oneOf": [  # the intent's fields (SignalIn._per_intent)
        {"properties": {"intent": {"const": "order"}, "side": side, "quantity": decimal,
                        "target": False},
         "required": ["side", "quantity"]},
        {"properties": {"intent": {"const": "target_position"}, "target": target,
                        "side": False, "quantity": False},
         "required": ["intent", "target"]},
        {"properties": {"intent": {"const": "close"}, "side": False, "quantity": False,
                        "target": False},
         "required": ["intent"]},
    ]}]  # fmt: skip
    return signal, defs


def _read(summary: str, schema: str, params: list[str], *, many: bool = False) -> dict[str, Any]:
    ref: dict[str, Any] = {"$ref": f"#/components/schemas/{schema}"}
    body = {"type": "object", "properties": {"items": {"type": "array", "items": ref}}}
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {
        "get": {
            "summary": summary,
            "parameters": [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in params
            ],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": body if many else ref}},
                },
                "400": {"description": "A query parameter is missing", "content": problem},
                "404": {"description": "Not found", "content": problem},
                "503": {
                    "description": "The owner of the key is not known yet or did not "
                    "answer (see Retry-After)",
                    "content": problem,
                },
            },
        }
    }


def _secured(paths: dict[str, Any], token: bool) -> dict[str, Any]:
    """With a token configured, each read operation declares it and its 401."""
    if not token:
        return paths
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for item in paths.values():
        item["get"]["security"] = [{"apiToken": []}]
        item["get"]["responses"]["401"] = {"description": "No valid API token",
                                           "content": problem}  # fmt: skip
    return paths


def read_paths() -> dict[str, Any]:
    """The read-only queries of the tables (app.web.queries)."""
    by_cid = _read("Orders (and so signals) of a correlation id", "OrderState", [], many=True)
    by_cid["get"]["parameters"] = [
        {
            "name": "correlation_id",
            "in": "query",
            "required": True,
            "schema": {"type": "string", "minLength": 1},
        }
    ]
    return {
        "/positions": _read("All positions", "Position", [], many=True),
        "/positions/{account}": _read("An account's positions", "Position", ["account"], many=True),
        "/positions/{account}/{symbol}": _read("One position", "Position", ["account", "symbol"]),
        "/orders/{order_id}": _read("An order's state", "OrderState", ["order_id"]),
        "/signals/{signal_id}": _read("A signal's status", "SignalStatus", ["signal_id"]),
        "/signals": by_cid,
    }


def _write(summary: str, body: str, answer: str, errors: dict[str, str], *,
           params: tuple[str, ...] = (), optional: bool = False) -> dict[str, Any]:  # fmt: skip
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {
        "summary": summary,
        "security": [{"apiToken": []}],
        "parameters": [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in params
        ],
        "requestBody": {
            "required": not optional,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}},
        },
        "responses": {
            "202": {
                "description": "Written to the log and acknowledged by the broker",
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{answer}"}}
                },
            },
            "400": {"description": "The body is not a JSON object", "content": problem},
            "401": {"description": "No valid API token", "content": problem},
            "403": {"description": "No API token configured: writes disabled", "content": problem},
            "422": {
                "description": "A field failed validation (each error listed)",
                "content": problem,
            },
            "503": {
                "description": "Not acknowledged in time, or not ready (see Retry-After)",
                "content": problem,
            },
            **{code: {"description": text, "content": problem} for code, text in errors.items()},
        },
    }


CANCEL_ACCEPTED = {
    "type": "object",
    "required": ["cancel_id", "order_id"],
    "properties": {"cancel_id": {"type": "string"}, "order_id": {"type": "string"}},
}


def trading_paths(token: bool) -> dict[str, Any]:
    """The kill switch and order cancels (app.web.trading)."""
    states = _read("Trading states, as this worker's partitions hold them", "TradingStates", [])
    states["get"]["responses"].pop("404")
    states["get"]["responses"].pop("400")
    states = _secured({"/trading-state": states}, token)["/trading-state"]
    set_state = _write("Set a trading state (kill switch)", "TradingStateRequest",
                       "TradingStateChange", {})  # fmt: skip
    cancel = _write("Cancel an open order", "CancelBody", "CancelAccepted",
                    {"404": "No such order", "409": "The order is not open"},
                    params=("order_id",), optional=True)  # fmt: skip
    return {
        "/trading-state": {**states, "post": set_state},
        "/orders/{order_id}/cancel": {"post": cancel},
    }


def _serialized(model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    schema: dict[str, Any] = model.model_json_schema(
        mode="serialization", ref_template="#/components/schemas/{model}"
    )
    return schema, schema.pop("$defs", {})


@cache
def openapi(provider_ids: tuple[str, ...] = ("default",), *, token: bool = False) -> dict[str, Any]:
    """The document; ``provider_ids`` are the providers the worker serves; ``token``: the
    read API wants ``AT_STREAM_API_TOKEN`` as a bearer token."""
    position, position_defs = _serialized(Position)
    order_state, order_defs = _serialized(OrderState)
    signal_status = {
        "type": "object",
        "properties": {
            "signal_id": {"type": "string"},
            "order_id": {"type": "string"},
            "status": {"type": "string"},
            "order": {"$ref": "#/components/schemas/OrderState"},
        },
    }
    signal, defs = signal_schema()
    trading: dict[str, Any] = {"CancelAccepted": CANCEL_ACCEPTED, "TradingStates": TRADING_STATES}
    for model in (TradingStateRequest, TradingStateChange, CancelBody):
        schema, more = _serialized(model)
        trading |= {model.__name__: schema, **more}
    provider = {"name": "provider", "in": "path", "required": True,
                "schema": {"type": "string", "enum": sorted(provider_ids)}}  # fmt: skip
    health = {"200": {"description": "OK"}, "503": {"description": "Not ready"}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "at-stream webhook",
            "version": "1",
            "description": "Signed trading signals in; see README.md for the schemes.",
        },
        "paths": {
            "/webhook/signals": {"post": _operation("Signal of the default provider", [])},
            "/webhook/signals/{provider}": {
                "post": _operation("Signal of a configured provider", [provider])
            },
            "/healthz": {"get": {"summary": "Alive", "responses": {"200": health["200"]}}},
            "/readyz": {"get": {"summary": "Ready", "responses": health}},
            **_secured(read_paths(), token),
            **trading_paths(token),
        },
        "components": {
            "securitySchemes": {"apiToken": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Signal": signal,
                "Problem": PROBLEM,
                "Accepted": ACCEPTED,
                "Position": position,
                "OrderState": order_state,
                "SignalStatus": signal_status,
                **defs,
                **position_defs,
                **order_defs,
                **trading,
            },
        },
    }


DOCS = """<!doctype html><html><head><title>at-stream webhook</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
</head><body><div id="ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"});</script>
<noscript>The spec: <a href="/openapi.json">/openapi.json</a></noscript></body></html>"""


@blueprint.route("/openapi.json", name="openapi")
class OpenAPI(ProblemView):
    async def get(self, request: web.Request) -> web.Response:
        from app.main import (
            providers,  # the worker's, once the app is loaded
            settings,
        )

        document = openapi(tuple(sorted(providers)), token=settings.api_token is not None)
        return self.json_bytes(document)


@blueprint.route("/docs", name="docs")
class Docs(ProblemView):
    async def get(self, request: web.Request) -> web.Response:
        return self.html(DOCS)

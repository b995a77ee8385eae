"""The OpenAPI contract, checked by schemathesis against a live worker."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)
from standardwebhooks.webhooks import Webhook

from tests.integration.support import Worker, signed_headers

FAST = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


SW_SECRET = "whsec_" + base64.b64encode(b"integration-contract-webhooks-key").decode()
PROVIDERS = f"""
[[providers]]
id = "engine"
scheme = "standard-webhooks"
secrets = [{{ value = "{SW_SECRET}" }}]
rate_limit = {{ per_second = 100000, burst = 100000 }}
"""
# What schemathesis' positive-data check ("schema-valid request rejected") applies, and the
# usual conformance checks with it.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    positive_data_acceptance,
]


@pytest.fixture
def live(start_worker: Callable[..., Worker], tmp_path: Path) -> Iterator[Worker]:
    providers = tmp_path / "providers.toml"
    providers.write_text(PROVIDERS)
    worker = start_worker(AT_STREAM_DEFAULT_RATE_LIMIT="0", AT_STREAM_PROVIDERS_FILE=str(providers))
    asyncio.run(worker.wait_ready())
    yield worker


def signed_for(provider: str, body: bytes, headers: dict[str, Any]) -> dict[str, str]:
    """The case's headers, signed for the provider's scheme. A generated Idempotency-Key or
    X-Correlation-ID (a legacy delivery's identity) gets a unique suffix: two cases with one
    identity and two payloads are a 422 the schema cannot express (its state)."""
    out = {k: str(v) for k, v in headers.items()}
    suffix = uuid.uuid4().hex[:12]
    if "Idempotency-Key" in out:
        out["Idempotency-Key"] = out["Idempotency-Key"].strip('"')[:240] + suffix
    if "X-Correlation-ID" in out:
        out["X-Correlation-ID"] = out["X-Correlation-ID"][:110] + suffix
    if provider == "engine":
        msg_id, now = f"msg_{suffix}", datetime.now(UTC)
        out.update({
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(SW_SECRET).sign(msg_id, now, body.decode()),
        })  # fmt: skip
    else:
        out.update(signed_headers(body))
    out["Content-Type"] = "application/json"
    return out


READS = settings(FAST, max_examples=25)
# Cases per operation (0: FAST's or READS'): a few dozen in make test, 1,000 in the long run.
EXAMPLES = [pytest.param(0, id="fast"), pytest.param(1000, id="long", marks=pytest.mark.long)]


def body_of(case: Any) -> bytes:
    return json.dumps(case.body, default=str).encode()


def test_openapi_document(live: Worker) -> None:
    spec = requests.get(live.url + "/openapi.json", timeout=5).json()
    assert spec["openapi"] == "3.1.0"
    assert {"/webhook/signals", "/webhook/signals/{provider}"} <= set(spec["paths"])
    assert requests.get(live.url + "/docs", timeout=5).status_code == 200
    # No API token configured: the trading writes are refused, never open.
    for path in ("/trading-state", "/orders/x/cancel"):
        refused = requests.post(live.url + path, json={"state": "halted"}, timeout=5)
        assert refused.status_code == 403, refused.text
        assert refused.json()["type"].endswith("/writes-disabled")


@pytest.mark.parametrize("scale", EXAMPLES)
def test_signed_requests_conform(live: Worker, scale: int) -> None:
    """Every schema-valid, correctly signed signal is accepted (positive-data check on)."""
    schema = schemathesis.openapi.from_url(live.url + "/openapi.json")
    for path in ("/webhook/signals", "/webhook/signals/{provider}"):
        operation = schema[path]["POST"]

        @settings(FAST, max_examples=scale or FAST.max_examples)
        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
        def check(case: Any) -> None:
            body = body_of(case)
            provider = (case.path_parameters or {}).get("provider", "default")
            response = requests.post(
                live.url + case.formatted_path,
                data=body,
                headers=signed_for(provider, body, dict(case.headers or {})),
                timeout=10,
            )
            assert response.status_code < 500, response.text
            assert response.status_code in {202, 400, 422}, response.text
            case.validate_response(response, checks=CHECKS)

        check()


@pytest.mark.parametrize("scale", EXAMPLES)
def test_every_read_operation_accepts_what_its_schema_allows(live: Worker, scale: int) -> None:
    """The read API and health: schema-valid requests are never refused as invalid."""
    schema = schemathesis.openapi.from_url(live.url + "/openapi.json")
    every = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in every)  # every operation's schema is valid
    operations = [r.ok() for r in every if isinstance(r, Ok) and r.ok().method == "get"]
    assert len(operations) >= 8
    for operation in operations:

        @settings(READS, max_examples=scale or READS.max_examples)
        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
        def check(case: Any) -> None:
            response = case.call(base_url=live.url, timeout=10)
            case.validate_response(response, checks=CHECKS)

        check()


@pytest.mark.parametrize("scale", EXAMPLES)
def test_unsigned_requests_are_all_4xx(live: Worker, scale: int) -> None:
    schema = schemathesis.openapi.from_url(live.url + "/openapi.json")
    for path in ("/webhook/signals", "/webhook/signals/{provider}"):
        operation = schema[path]["POST"]

        @settings(FAST, max_examples=scale or FAST.max_examples)
        @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        def check(case: Any) -> None:
            response = case.call(base_url=live.url, timeout=10)
            assert 400 <= response.status_code < 500, (response.status_code, response.text)

        check()


TOKEN = "contract-writes-token"


def _check_writes(worker: Worker, operation: Any, statuses: set[int], checks: list[Any],
                  scale: int) -> None:  # fmt: skip
    auth = {"Authorization": f"Bearer {TOKEN}"}

    @settings(READS, max_examples=scale or READS.max_examples)
    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    def check(case: Any) -> None:
        response = case.call(base_url=worker.url, headers=auth, timeout=10)
        assert response.status_code in statuses, response.text
        case.validate_response(response, checks=checks)
        bare = requests.post(worker.url + case.formatted_path, json={}, timeout=10)
        assert bare.status_code == 401, bare.text

    check()


@pytest.mark.parametrize("scale", EXAMPLES)
def test_trading_writes_conform(
    start_worker: Callable[..., Worker], tmp_path: Path, scale: int
) -> None:
    """The kill switch and cancels, with the token: every schema-valid kill-switch change
    is written (202); a cancel of an order that does not exist is a documented 404
    (schema-valid, so no positive-data check); both are 401 without the token."""
    worker = start_worker(AT_STREAM_API_TOKEN=TOKEN)
    asyncio.run(worker.wait_ready())
    schema = schemathesis.openapi.from_url(worker.url + "/openapi.json")
    _check_writes(worker, schema["/trading-state"]["POST"], {202}, CHECKS, scale)
    cancel = schema["/orders/{order_id}/cancel"]["POST"]
    _check_writes(worker, cancel, {404}, CHECKS[:-1], scale)

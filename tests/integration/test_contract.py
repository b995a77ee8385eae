"""The OpenAPI contract, checked by schemathesis against a live worker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tests.integration.support import Worker, signed_headers

FAST = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


@pytest.fixture
def live(start_worker: Callable[..., Worker]) -> Iterator[Worker]:
    worker = start_worker(AT_STREAM_DEFAULT_RATE_LIMIT="0")
    asyncio.run(worker.wait_ready())
    yield worker


def body_of(case: Any) -> bytes:
    return json.dumps(case.body, default=str).encode()


def test_openapi_document(live: Worker) -> None:
    spec = requests.get(live.url + "/openapi.json", timeout=5).json()
    assert spec["openapi"] == "3.1.0"
    assert {"/webhook/signals", "/webhook/signals/{provider}"} <= set(spec["paths"])
    assert requests.get(live.url + "/docs", timeout=5).status_code == 200


def test_signed_requests_conform(live: Worker) -> None:
    schema = schemathesis.openapi.from_url(live.url + "/openapi.json")
    operation = schema["/webhook/signals"]["POST"]

    @FAST
    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    def check(case: Any) -> None:
        body = body_of(case)
        response = requests.post(
            live.url + "/webhook/signals", data=body, headers=signed_headers(body), timeout=10
        )
        assert response.status_code < 500, response.text
        assert response.status_code in {202, 400, 422}, response.text
        case.validate_response(response)

    check()


def test_unsigned_requests_are_all_4xx(live: Worker) -> None:
    schema = schemathesis.openapi.from_url(live.url + "/openapi.json")
    for path in ("/webhook/signals", "/webhook/signals/{provider}"):
        operation = schema[path]["POST"]

        @FAST
        @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        def check(case: Any) -> None:
            response = case.call(base_url=live.url, timeout=10)
            assert 400 <= response.status_code < 500, (response.status_code, response.text)

        check()

"""Every record the pipeline writes validates against the JSON Schema it publishes.

Hypothesis generates valid signals across the whole accepted range (tiny and huge
quantities, as strings and as JSON numbers, every order type and time in force, unknown
fields for a lenient provider); each is posted to a live worker, and every record on
``signals``, ``orders``, ``fills`` and ``dead-letters`` is validated against the output
of ``at-stream schema`` (draft 2020-12), as a consumer in another language would.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema_rs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from app.decimals import plain
from tests.integration.support import ROOT, SECRET, Worker, end_offsets, read_topic, signed_headers

SW_SECRET = "whsec_" + base64.b64encode(b"integration-schema-webhooks-key").decode()
PROVIDERS = f"""
[[providers]]
id = "lenient"
scheme = "standard-webhooks"
secrets = [{{ value = "{SW_SECRET}" }}]
unknown_fields = "lenient"
rate_limit = {{ per_second = 100000, burst = 100000 }}
"""
EXAMPLES = 120
TOPICS = ("signals", "orders", "order-events", "fills", "dead-letters")

_decimal = st.decimals(
    min_value=Decimal("0.000000000001"),
    max_value=Decimal("9999999999999999.999999999999"),
    places=12,
    allow_nan=False,
    allow_infinity=False,
) | st.sampled_from([Decimal("1E-12"), Decimal("1E-7"), Decimal("1E+15"), Decimal("0.10")])
_name = st.from_regex(r"\A[A-Za-z0-9._:-]{1,64}\Z")
_symbol = st.from_regex(r"\A[A-Z0-9][A-Z0-9.:/_-]{0,31}\Z")
_unknown = st.dictionaries(
    st.from_regex(r"\Ax_[a-z]{1,8}\Z"),
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=20),
    max_size=3,
)


@st.composite
def payloads(draw: st.DrawFn) -> tuple[str, bytes]:
    """(provider, body): a valid signal, its decimals as strings or as JSON numbers."""
    order_type = draw(st.sampled_from(["market", "limit", "stop", "stop_limit"]))
    fields: dict[str, Any] = {
        "symbol": draw(_symbol),
        "side": draw(st.sampled_from(["buy", "sell"])),
        "quantity": draw(_decimal),
        "order_type": order_type,
        "time_in_force": draw(st.sampled_from(["gtc", "day", "ioc", "fok"])),
        "account": draw(_name),
        "strategy": draw(_name),
    }
    if order_type == "market":
        fields["price"] = draw(_decimal)
    if order_type in {"limit", "stop_limit"}:
        fields["limit_price"] = draw(_decimal)
    if order_type in {"stop", "stop_limit"}:
        fields["stop_price"] = draw(_decimal)
    if draw(st.booleans()):
        fields["timestamp"] = "2026-12-01T10:00:00+01:00"
    lenient = draw(st.booleans())
    if lenient:
        fields.update(draw(_unknown))
    numbers = {k for k, v in fields.items() if isinstance(v, Decimal) and draw(st.booleans())}
    text = json.dumps(
        {k: (f"@{k}@" if k in numbers else plain(v) if isinstance(v, Decimal) else v)
         for k, v in fields.items()}
    )  # fmt: skip
    for k in numbers:  # a JSON number, as written (an exponent form is a valid JSON number)
        text = text.replace(f'"@{k}@"', str(fields[k]))
    return ("lenient" if lenient else "default"), text.encode()


def _collect() -> list[tuple[str, bytes]]:
    found: list[tuple[str, bytes]] = []

    @settings(max_examples=EXAMPLES, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(payloads())
    def collect(payload: tuple[str, bytes]) -> None:
        found.append(payload)

    collect()
    return found


def _headers(provider: str, body: bytes) -> dict[str, str]:
    if provider == "default":
        return {**signed_headers(body), "Idempotency-Key": uuid.uuid4().hex}
    msg_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(SW_SECRET).sign(msg_id, now, body.decode()),
    }


def _exported_schemas(out: Path) -> dict[str, Any]:
    """What ``at-stream schema --out DIR`` writes, as a consumer would read it."""
    subprocess.run(
        [sys.executable, "-m", "app.cli", "schema", "--out", str(out)],
        check=True, cwd=ROOT, capture_output=True,
    )  # fmt: skip
    return {p.name.removesuffix(".v1.schema.json"): jsonschema_rs.Draft202012Validator(
        json.loads(p.read_text())) for p in out.glob("*.v1.schema.json")}  # fmt: skip


def _schema_name(topic: str, record: Any) -> str:
    """``orders.<kind>`` for the execution log's records that are not orders (a clock
    tick can come), else the topic."""
    kind = dict(record.headers or ()).get("at-kind")
    return topic if kind in (None, b"order") else f"orders.{bytes(kind).decode()}"


async def test_every_record_written_validates_against_its_exported_schema(
    start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    providers = tmp_path / "providers.toml"
    providers.write_text(PROVIDERS)
    worker = start_worker(AT_STREAM_PROVIDERS_FILE=str(providers), AT_STREAM_DEFAULT_RATE_LIMIT="0")
    validators = _exported_schemas(tmp_path / "schemas")
    cases = _collect()
    await worker.wait_ready()
    async with aiohttp.ClientSession() as http:

        async def post(provider: str, body: bytes) -> None:
            path = "/webhook/signals" + ("" if provider == "default" else f"/{provider}")
            async with http.post(
                worker.url + path, data=body, headers=_headers(provider, body)
            ) as r:
                assert r.status == 202, (body, await r.text())

        for start in range(0, len(cases), 20):
            await asyncio.gather(*(post(p, b) for p, b in cases[start : start + 20]))
    n = len(cases)
    # Each order's first lifecycle event (accepted or rejected) comes after its order; a
    # market order fills at its reference price, limits and stops rest (issue 12).
    events = await read_topic(worker.bootstrap, worker.topics["order-events"], n, timeout=60)
    assert len(events) >= n
    fills = await read_topic(worker.bootstrap, worker.topics["fills"], 1, timeout=60)
    assert fills
    checked = 0
    for topic in TOPICS:
        want = sum((await end_offsets(worker.bootstrap, worker.topics[topic])).values())
        records = await read_topic(worker.bootstrap, worker.topics[topic], want, timeout=10)
        for record in records:
            value = json.loads(record.value)
            errors = [e.message for e in validators[_schema_name(topic, record)].iter_errors(value)]
            assert not errors, (topic, value, errors)
            checked += 1
        if topic == "dead-letters":
            assert not records, [json.loads(r.value)["reason"] for r in records]
    assert checked >= 3 * n
    log = worker.log_path.read_text(errors="replace")
    for secret in (SECRET, SW_SECRET, SW_SECRET.removeprefix("whsec_")):
        assert secret not in log  # never logged, whatever the request

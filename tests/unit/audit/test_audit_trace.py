"""A trace from rows: steps in order, latencies, and the position after each fill."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from app.audit import reader, trace
from app.audit.records import Row
from app.audit.store import SQLiteStore
from app.models import Side
from tests.unit.audit.samples import chain, dead_letter


def as_dict(row: Row) -> dict[str, Any]:
    return dict(zip(Row.__dataclass_fields__, row.values(), strict=True))


def test_steps_in_order_with_latencies() -> None:
    rows = [as_dict(r) for r in reversed(chain(1, "cid-00000001"))]
    found = trace.build("cid-00000001", rows, lambda r: None).as_dict()
    steps = [s["step"] for s in found["steps"]]
    assert steps == ["webhook receipt", "signal", "order", "fill"]
    assert [s["since_previous_ms"] for s in found["steps"]] == [None, 2.0, 3.0, 3.0]
    assert found["total_ms"] == 8.0 and found["correlation_ids"] == ["cid-00000001"]
    assert found["steps"][0]["at"] == "2026-01-05T14:30:01Z"
    assert found["steps"][2]["summary"] == "buy 10 AAPL @ 100.5 market"


async def test_trace_by_signal_id_with_the_position_after(tmp_path: Path) -> None:
    store = SQLiteStore(f"sqlite:///{tmp_path}/audit.db")
    try:
        await store.migrate()
        first = chain(1, "cid-00000001", offset=0)
        second = chain(2, "cid-00000002", offset=1, side=Side.SELL, qty="4")
        await store.write([*first, *second, dead_letter(0, "cid-00000002")])
        found = await reader.trace_of(store, second[0].event_id or "")
        assert found is not None
        doc = found.as_dict()
        assert [s["step"] for s in doc["steps"]] == [
            "webhook receipt",
            "signal",
            "order",
            "fill",
            "position after",
        ]
        position = doc["steps"][-1]["position"]
        assert Decimal(position["quantity"]) == 6 and position["fills_applied"] == 2
        by_cid = await reader.trace_of(store, "cid-00000002")
        assert by_cid is not None
        assert by_cid.as_dict()["steps"][-1]["step"] == "dead_letter"  # its dead letter too
        assert await reader.trace_of(store, "nobody-knows") is None
    finally:
        await store.close()


def test_a_lifecycle_event_says_its_status_fill_and_totals() -> None:
    def row(doc: dict[str, Any]) -> dict[str, Any]:
        return {"event_type": "order_event", "payload": orjson.dumps(doc).decode()}

    filled = {"status": "partially_filled", "last_quantity": "4", "last_price": "99.5",
              "cumulative_quantity": "6", "average_price": "99.75"}  # fmt: skip
    assert trace.summary(row(filled)) == (
        "partially_filled 4 @ 99.5 (cumulative 6, average 99.75)")  # fmt: skip
    rejected = {"status": "rejected", "reason_code": "max_order_rate", "last_price": None}
    assert trace.summary(row(rejected)) == "rejected: max_order_rate"

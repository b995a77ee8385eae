"""The trace of a signal: its rows as steps in order, with the latency between steps. Pure.

Steps: the webhook's receipt (the signal's ``received_at``), then every record of the
correlation id or signal id in broker-time order (signal, risk decision, order, lifecycle
events, fills, dead letters, as they exist), each fill followed by the position after it.
A record's time is its broker timestamp: when the log recorded it. The position after a
fill is computed with the worker's own logic (``app.positions.apply_fill``) from the
fills of that position the store holds, up to that fill: it is exact while retention has
deleted none of that position's fills.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from app.audit.queries import TYPE_RANK
from app.models import Fill
from app.positions import Position, apply_fill


def iso(time_us: int | None) -> str | None:
    if time_us is None:
        return None
    return datetime.fromtimestamp(time_us / 1_000_000, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Step:
    step: str
    time_us: int | None
    event_type: str | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    event_id: str | None = None
    summary: str = ""
    since_previous_ms: float | None = None
    since_start_ms: float | None = None
    position: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "at": iso(self.time_us),
            "event_type": self.event_type,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "event_id": self.event_id,
            "summary": self.summary,
            "since_previous_ms": self.since_previous_ms,
            "since_start_ms": self.since_start_ms,
            "position": self.position,
        }


@dataclass
class Trace:
    ident: str
    steps: list[Step] = field(default_factory=list)
    correlation_ids: list[str] = field(default_factory=list)
    signal_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        timed = [s.since_start_ms for s in self.steps if s.since_start_ms is not None]
        return {
            "id": self.ident,
            "correlation_ids": self.correlation_ids,
            "signal_ids": self.signal_ids,
            "total_ms": max(timed) if timed else None,
            "steps": [s.as_dict() for s in self.steps],
        }


def _doc(row: dict[str, Any]) -> dict[str, Any]:
    try:
        doc = orjson.loads(row["payload"]) if row.get("payload") else {}
    except orjson.JSONDecodeError:
        return {}
    return doc if isinstance(doc, dict) else {}


def summary(row: dict[str, Any]) -> str:
    """One line about a record, from its payload."""
    doc = _doc(row)
    kind = row["event_type"]
    if kind == "dead_letter":
        return f"dead-lettered from {doc.get('source_topic')}: {doc.get('reason')}"
    if kind == "order_event":
        return _lifecycle(doc)
    parts = [str(doc[k]) for k in ("side", "quantity", "symbol") if k in doc]
    if "price" in doc or "limit_price" in doc:
        parts.append(f"@ {doc.get('limit_price') or doc.get('price')}")
    if "order_type" in doc:
        parts.append(str(doc["order_type"]))
    return " ".join(parts)


def _lifecycle(doc: dict[str, Any]) -> str:
    """``filled 10 @ 187.25 (cumulative 10, average 187.25)``, ``rejected: max_order_rate``."""
    status = str(doc.get("status"))
    if doc.get("last_price") is not None:
        status += f" {doc.get('last_quantity')} @ {doc.get('last_price')}"
        status += (
            f" (cumulative {doc.get('cumulative_quantity')}, average {doc.get('average_price')})"
        )
    if doc.get("reason_code"):
        status += f": {doc['reason_code']}"
    return status


def sort_key(row: dict[str, Any]) -> tuple[Any, ...]:
    rank = TYPE_RANK.get(row["event_type"], 3)
    return (row["broker_time_us"], rank, row["topic"], row["kafka_partition"], row["kafka_offset"])


def position_after(fills: Iterable[tuple[str, int]]) -> Position | None:
    """The position after applying ``(payload, offset)`` fills in order (bad ones skipped)."""
    position: Position | None = None
    for payload, offset in fills:
        try:
            fill = Fill.model_validate_json(payload)
            position, _ = apply_fill(position, fill, offset=offset)
        except (ValidationError, ValueError, ArithmeticError):
            continue
    return position


PositionOf = Callable[[dict[str, Any]], Position | None]


def build(ident: str, rows: Sequence[dict[str, Any]], position_of: PositionOf) -> Trace:
    """The trace of ``rows`` (those of ``ident``); ``position_of(fill_row)`` gives the
    position after a fill."""
    trace = Trace(ident)
    ordered = sorted(rows, key=sort_key)
    trace.correlation_ids = sorted({r["correlation_id"] for r in ordered if r["correlation_id"]})
    trace.signal_ids = sorted({r["signal_id"] for r in ordered if r["signal_id"]})
    for row in ordered:
        if row["event_type"] == "signal" and row["event_time_us"] is not None:
            trace.steps.append(
                Step(
                    "webhook receipt",
                    row["event_time_us"],
                    "signal",
                    event_id=row["event_id"],
                    summary="signed request verified (received_at)",
                )
            )
        trace.steps.append(
            Step(
                row["event_type"],
                row["broker_time_us"],
                row["event_type"],
                row["topic"],
                row["kafka_partition"],
                row["kafka_offset"],
                row["event_id"],
                summary(row),
            )
        )
        if row["event_type"] == "fill":
            position = position_of(row)
            if position is not None:
                trace.steps.append(
                    Step(
                        "position after",
                        None,
                        "position",
                        event_id=row["event_id"],
                        summary=f"{position.account} {position.symbol} quantity "
                        f"{position.quantity} avg {position.avg_price}",
                        position=position.model_dump(mode="json"),
                    )
                )
    _latencies(trace.steps)
    return trace


def _latencies(steps: list[Step]) -> None:
    timed = [s for s in steps if s.time_us is not None]
    if not timed:
        return
    start = min(s.time_us for s in timed if s.time_us is not None)
    previous: int | None = None
    for s in steps:
        if s.time_us is None:
            continue
        s.since_start_ms = round((s.time_us - start) / 1000, 3)
        if previous is not None:
            s.since_previous_ms = round((s.time_us - previous) / 1000, 3)
        previous = s.time_us

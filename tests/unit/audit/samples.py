"""Rows of a real signal -> order -> fill chain (the worker's own logic), for audit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.audit.records import Row, to_row
from app.execution import immediate_fill, order_for
from app.ids import signal_id_for
from app.models import DeadLetter, Side, Signal
from app.topics import CORRELATION_HEADER, derived_headers

T0 = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)


def signal(n: int, account: str = "acct-1", side: Side = Side.BUY, qty: str = "10") -> Signal:
    return Signal(
        symbol="AAPL",
        side=side,
        quantity=Decimal(qty),
        price=Decimal("100.5"),
        account=account,
        strategy="unit",
        signal_id=signal_id_for(f"sig-{n}-{account}".encode()),
        received_at=T0 + timedelta(seconds=n),
    )


def chain(n: int, cid: str, offset: int = 0, **kw: str) -> list[Row]:
    """The signal, order and fill rows of signal ``n``, each at ``offset`` of its topic."""
    s = signal(n, **kw)  # type: ignore[arg-type]
    o = order_for(s)
    f = immediate_fill(o)
    base = int((T0 + timedelta(seconds=n)).timestamp() * 1000)
    out = []
    for i, (topic, kind, value, headers) in enumerate(
        (
            ("signals", "signal", s.dumps(), [(CORRELATION_HEADER, cid.encode())]),
            ("orders", "order", o.dumps(), list(derived_headers(cid, s.signal_id).items())),
            ("fills", "fill", f.dumps(), list(derived_headers(cid, o.order_id).items())),
        )
    ):
        out.append(
            to_row(
                topic=topic,
                partition=0,
                offset=offset,
                key=s.key,
                value=value,
                headers=headers,
                timestamp_ms=base + 2 + i * 3,
                event_type=kind,
                ingest_us=(base + 100) * 1000,
            )
        )
    return out


def dead_letter(offset: int, cid: str) -> Row:
    dl = DeadLetter(
        source_topic="orders",
        partition=0,
        offset=7,
        reason="bad key",
        key="x",
        value='{"signal_id": "s-1", "account": "acct-9", "symbol": "MSFT"}',
    )
    return to_row(
        topic="dead-letters",
        partition=1,
        offset=offset,
        key=b"x",
        value=dl.dumps(),
        headers=[(CORRELATION_HEADER, cid.encode())],
        timestamp_ms=1_767_623_460_000,
        event_type="dead_letter",
    )

"""An in-memory :class:`app.trading.engine.Store` and command builders for the engine's tests.

The store keeps every value as the JSON bytes the changelog-backed table would hold
(``app.tables.books.PartitionStore`` does the same over a batch's writes), so a test sees
what survives a round trip through the table, and :meth:`MemoryStore.dump` gives the
whole state as bytes to compare two runs with.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from app.ids import derive, order_id_for, signal_id_for
from app.models import Intent, Order, Side
from app.positions import Position, signed_quantity
from app.trading.commands import CancelRequest, Command, QuoteTick, TargetRequest
from app.trading.engine import Book, Engine, Store, handle
from app.trading.events import OrderEvent, to_fill
from app.trading.orders import WorkingOrder
from app.trading.quotes import Quote
from app.trading.risk import AccountRisk, RiskConfig
from app.trading.trading_state import TradingState, TradingStateChange, TradingStates
from app.trading.venue_config import VenueConfig
from tests.unit.trading.samples import CORRELATION, T0, venue

ZERO = Decimal(0)


class MemoryStore:
    """One partition's execution state in a dict of JSON bytes."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def book(self, symbol: str) -> Book:
        raw = self.data.get(f"b:{symbol}")
        return Book(symbol=symbol) if raw is None else Book.model_validate_json(raw)

    def put_book(self, book: Book) -> None:
        self.data[f"b:{book.symbol}"] = book.dumps()

    def resting_symbols(self) -> list[str]:
        symbols = [k[2:] for k in self.data if k.startswith("b:")]
        return sorted(s for s in symbols if self.book(s).open)

    def holding(self, account: str, symbol: str) -> Position | None:
        raw = self.data.get(f"h:{account}|{symbol}")
        return None if raw is None else Position.loads(raw)

    def holdings(self, account: str) -> dict[str, Position]:
        prefix = f"h:{account}|"
        held = {k: v for k, v in self.data.items() if k.startswith(prefix)}
        return {k[len(prefix) :]: Position.loads(v) for k, v in held.items()}

    def put_holding(self, position: Position) -> None:
        self.data[f"h:{position.account}|{position.symbol}"] = position.dumps()

    def trading(self) -> TradingStates:
        raw = self.data.get("t:")
        return TradingStates() if raw is None else TradingStates.model_validate_json(raw)

    def put_trading(self, states: TradingStates) -> None:
        self.data["t:"] = states.model_dump_json().encode()

    def risk(self, account: str) -> AccountRisk | None:
        raw = self.data.get(f"r:{account}")
        return None if raw is None else AccountRisk.model_validate_json(raw)

    def put_risk(self, risk: AccountRisk) -> None:
        self.data[f"r:{risk.account}"] = risk.dumps()

    def seen(self, order_id: str) -> bool:
        return f"o:{order_id}" in self.data

    def see(self, order_id: str) -> None:
        self.data[f"o:{order_id}"] = b"1"

    def venue_order(self, order_id: str) -> WorkingOrder | None:
        raw = self.data.get(f"v:{order_id}")
        return None if raw is None else WorkingOrder.loads(raw)

    def put_venue_order(self, state: WorkingOrder) -> None:
        if state.is_open:
            self.data[f"v:{state.order_id}"] = state.dumps()
        else:
            self.data.pop(f"v:{state.order_id}", None)

    # -- for the tests ------------------------------------------------------------------

    def held(self, account: str = "acct-1", symbol: str = "AAPL") -> Decimal:
        position = self.holding(account, symbol)
        return ZERO if position is None else position.quantity

    def dump(self) -> bytes:
        return b"\n".join(k.encode() + b"=" + v for k, v in sorted(self.data.items()))


def engine(venue_config: VenueConfig | None = None, **risk: Any) -> Engine:
    """An engine on ``venue_config`` (default: AAPL and MSFT, no fees, no slippage) with
    ``risk`` as the default limits of every account."""
    return Engine(venue=venue_config or venue(), risk=RiskConfig.model_validate({"default": risk}))


def signal_id(n: int | str) -> str:
    return signal_id_for(f"signal-{n}".encode())


def order_id(n: int | str) -> str:
    return order_id_for(signal_id(n))


def order_cmd(n: int | str, **overrides: Any) -> Order:
    """Order ``n`` of acct-1: buy 10 AAPL at market, reference price 100, at T0."""
    fields: dict[str, Any] = {
        "order_id": order_id(n),
        "signal_id": signal_id(n),
        "account": "acct-1",
        "strategy": "momentum",
        "symbol": "AAPL",
        "side": "buy",
        "quantity": "10",
        "order_type": "market",
        "price": "100",
        "created_at": T0,
    }
    fields.update(overrides)
    return Order.model_validate(fields)


def limit_cmd(n: int | str, limit: str, **overrides: Any) -> Order:
    return order_cmd(n, order_type="limit", limit_price=limit, **overrides)


def tick(
    bid: str | None,
    ask: str | None,
    offset: int,
    *,
    seconds: float | None = None,
    partition: int = 0,
    symbol: str = "AAPL",
    **extra: Any,
) -> QuoteTick:
    """The quote at ``offset`` of ``quotes`` (at T0 + ``offset`` s unless ``seconds``)."""
    at = T0 + timedelta(seconds=offset if seconds is None else seconds)
    quote = Quote.model_validate({"symbol": symbol, "bid": bid, "ask": ask, "at": at, **extra})
    return QuoteTick(quote=quote, source_partition=partition, source_offset=offset)


def target_cmd(n: int | str, target: str | int, **overrides: Any) -> TargetRequest:
    """acct-1's target_position ``target`` in AAPL at market, reference price 100."""
    fields: dict[str, Any] = {
        "order_id": order_id(n),
        "signal_id": signal_id(n),
        "intent": Intent.TARGET_POSITION,
        "target": Decimal(target),
        "account": "acct-1",
        "strategy": "momentum",
        "symbol": "AAPL",
        "order_type": "market",
        "price": "100",
        "created_at": T0,
    }
    fields.update(overrides)
    return TargetRequest.model_validate(fields)


def cancel_cmd(oid: str, *, account: str = "acct-1", symbol: str = "AAPL") -> CancelRequest:
    return CancelRequest(
        cancel_id=derive("cancel", oid),
        order_id=oid,
        account=account,
        symbol=symbol,
        requested_at=T0 + timedelta(seconds=30),
    )


def state_change(
    scope: str, state: TradingState, n: int = 1, at: datetime | None = None
) -> TradingStateChange:
    return TradingStateChange(
        change_id=f"change-{n}",
        scope=scope,
        state=state,
        reason="test",
        at=at or T0 + timedelta(seconds=n),
    )


def run(store: MemoryStore, eng: Engine, commands: Iterable[Command]) -> list[OrderEvent]:
    """Every event the commands cause, in order."""
    out: list[OrderEvent] = []
    for command in commands:
        out.extend(handle(store, eng, command, CORRELATION).events)
    return out


def fills(events: Iterable[OrderEvent]) -> list[OrderEvent]:
    return [e for e in events if e.is_fill]


def signed_fills(events: Iterable[OrderEvent], account: str, symbol: str = "AAPL") -> Decimal:
    """The signed sum of ``account``'s fills in ``symbol`` among ``events``."""
    total = ZERO
    for event in fills(events):
        if event.account == account and event.symbol == symbol:
            total += signed_quantity(to_fill(event))
    return total


def statuses(events: Iterable[OrderEvent]) -> list[str]:
    return [e.status.value for e in events]


BUY, SELL = Side.BUY, Side.SELL


def _conforms(store: MemoryStore) -> Store:
    return store  # mypy checks that MemoryStore is a Store

"""The order as the execution step sees it, its validation, and its working state.

Order types and times in force reuse the wire vocabulary of :mod:`app.models`:

- ``market``: fills at the touch (a buy at the ask, a sell at the bid).
- ``limit``: fills at its limit price or better; rests until the market reaches it.
- ``stop``: rests until the market trades through its stop price, then is a market order.
- ``stop_limit``: rests until the stop triggers, then is a limit order at its limit price.

- ``gtc``: rests until filled or cancelled.
- ``day``: rests until the end of the trading session it was submitted in, then expires.
- ``ioc``: fills what it can at once; the rest is cancelled, it never rests.
- ``fok``: fills completely at once, or not at all (cancelled).

``ioc`` and ``fok`` are refused for stop and stop-limit orders (a stop must rest until it
triggers, which an immediate order cannot do); Alpaca refuses the same combinations.

:func:`build_order` and :func:`validate_order` raise :class:`InvalidOrder`, which names
the field and the reason; the matching step turns it into a ``rejected`` event with the
reason code ``invalid_order``, so a bad order is never silently dropped.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, localcontext
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from app.decimals import PlainDecimal, Positive
from app.ids import order_id_for
from app.models import EventId, Name, Order, OrderType, Side, Signal, Symbol, TimeInForce
from app.order_state import OPEN, OrderStatus
from app.trading.errors import InvalidOrder, OrderClosed
from app.trusted import updated

ZERO = Decimal(0)
NEEDS_LIMIT = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT})
NEEDS_STOP = frozenset({OrderType.STOP, OrderType.STOP_LIMIT})
IMMEDIATE = frozenset({TimeInForce.IOC, TimeInForce.FOK})


class TradingOrder(BaseModel):
    """One order to execute; immutable. ``reference_price``: the signal's price at alert
    time, what a market order fills at when no quote is known."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: EventId
    signal_id: EventId
    correlation_id: str
    account: Name
    strategy: Name
    symbol: Symbol
    side: Side
    quantity: Positive
    order_type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.GTC
    limit_price: Positive | None = None
    stop_price: Positive | None = None
    reference_price: Positive | None = None
    submitted_at: AwareDatetime

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell."""
        return 1 if self.side is Side.BUY else -1

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity * self.sign

    @property
    def price_hint(self) -> Decimal | None:
        """The best price known before any quote: the limit, else the stop, else the
        reference price (used for notional checks)."""
        return self.limit_price or self.stop_price or self.reference_price


def validate_order(order: TradingOrder) -> TradingOrder:
    """``order`` if its fields agree with each other; else :class:`InvalidOrder`."""
    kind = order.order_type.value
    oid = order.order_id
    if order.order_type in NEEDS_LIMIT and order.limit_price is None:
        raise InvalidOrder(oid, "limit_price", f"is required for a {kind} order")
    if order.order_type not in NEEDS_LIMIT and order.limit_price is not None:
        raise InvalidOrder(
            oid, "limit_price", f"is not allowed for a {kind} order", order.limit_price
        )
    if order.order_type in NEEDS_STOP and order.stop_price is None:
        raise InvalidOrder(oid, "stop_price", f"is required for a {kind} order")
    if order.order_type not in NEEDS_STOP and order.stop_price is not None:
        raise InvalidOrder(
            oid, "stop_price", f"is not allowed for a {kind} order", order.stop_price
        )
    if order.order_type in NEEDS_STOP and order.time_in_force in IMMEDIATE:
        raise InvalidOrder(
            oid,
            "time_in_force",
            f"{order.time_in_force.value} is not allowed for a {kind} order "
            "(a stop rests until it triggers)",
            order.time_in_force.value,
        )
    return order


def build_order(**fields: Any) -> TradingOrder:
    """A validated order from plain fields; :class:`InvalidOrder` names the first bad one."""
    try:
        order = TradingOrder.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "order"
        oid = fields.get("order_id")
        raise InvalidOrder(
            oid if isinstance(oid, str) else None, where, first["msg"], first.get("input")
        ) from None
    return validate_order(order)


ORDER_FIELDS = (
    ("order_id", "order_id"),
    ("signal_id", "signal_id"),
    ("account", "account"),
    ("strategy", "strategy"),
    ("symbol", "symbol"),
    ("side", "side"),
    ("quantity", "quantity"),
    ("order_type", "order_type"),
    ("time_in_force", "time_in_force"),
    ("limit_price", "limit_price"),
    ("stop_price", "stop_price"),
    ("reference_price", "price"),
    ("submitted_at", "created_at"),
)
"""Each :class:`TradingOrder` field and the field of :class:`app.models.Order` it is."""


def order_fields(order: Order, correlation_id: str) -> dict[str, Any]:
    """The fields of a :class:`TradingOrder` from an order of the ``orders`` topic."""
    fields = {ours: getattr(order, wire) for ours, wire in ORDER_FIELDS}
    fields["correlation_id"] = correlation_id
    return fields


def wire_order(order: TradingOrder) -> Order:
    """The order as ``orders`` carries it (and a venue adapter takes it)."""
    return Order(**{wire: getattr(order, ours) for ours, wire in ORDER_FIELDS})


def from_order(order: Order, correlation_id: str) -> TradingOrder:
    """The order of today's ``orders`` topic, as the execution step works it."""
    return build_order(**order_fields(order, correlation_id))


def from_signal(
    signal: Signal,
    correlation_id: str,
    *,
    order_id: str | None = None,
    account: str | None = None,
    side: Side | None = None,
    quantity: Decimal | None = None,
) -> TradingOrder:
    """The order a signal causes: by default the one of an ``order`` intent (id as
    :func:`app.ids.order_id_for`); a fan-out or a target gives its own id, account, side
    and quantity."""
    return build_order(
        order_id=order_id or order_id_for(signal.signal_id),
        signal_id=signal.signal_id,
        correlation_id=correlation_id,
        account=account or signal.account,
        strategy=signal.strategy,
        symbol=signal.symbol,
        side=side or signal.side,
        quantity=signal.quantity if quantity is None else quantity,
        order_type=signal.order_type,
        time_in_force=signal.time_in_force,
        limit_price=signal.limit_price,
        stop_price=signal.stop_price,
        reference_price=signal.price,
        submitted_at=signal.received_at,
    )


class WorkingOrder(BaseModel):
    """An order and what has happened to it; immutable, a new one per matching step.

    ``cumulative_quantity`` and ``cumulative_notional`` are exact sums over the fills;
    ``fills`` counts them (the next fill id is ``fill_id_for(order_id, fills + 1)``);
    ``steps`` counts the quotes the order was matched against (it seeds the draws);
    ``triggered`` is True once a stop or stop-limit order's stop was reached.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    order: TradingOrder
    status: OrderStatus = OrderStatus.ACCEPTED
    cumulative_quantity: PlainDecimal = ZERO
    cumulative_notional: PlainDecimal = ZERO
    cumulative_commission: PlainDecimal = ZERO
    fills: int = 0
    steps: int = 0
    triggered: bool = False
    resting: bool = False
    """True once the order stayed open after a step in which it could fill: from then on
    a limit fills as a maker, at its limit price."""
    events: int = 0
    """Lifecycle events emitted so far (each event's sequence number)."""
    updated_at: datetime

    @property
    def order_id(self) -> str:
        return self.order.order_id

    @property
    def leaves_quantity(self) -> Decimal:
        """What is still open: ordered minus filled (0 once terminal)."""
        if self.status not in OPEN:
            return ZERO
        return self.order.quantity - self.cumulative_quantity

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def after_fill(
        self, quantity: Decimal, price: Decimal, commission: Decimal, at: datetime
    ) -> WorkingOrder:
        """The order after a fill of ``quantity`` at ``price`` (its sums exact)."""
        with localcontext(prec=100):
            cum = self.cumulative_quantity + quantity
            notional = self.cumulative_notional + quantity * price
            fees = self.cumulative_commission + commission
        filled = cum == self.order.quantity
        return updated(
            self,
            status=OrderStatus.FILLED if filled else OrderStatus.PARTIALLY_FILLED,
            cumulative_quantity=cum,
            cumulative_notional=notional,
            cumulative_commission=fees,
            fills=self.fills + 1,
            events=self.events + 1,
            updated_at=at,
        )

    def require_open(self, action: str) -> None:
        if not self.is_open:
            raise OrderClosed(self.order_id, self.status.value, action)

    def dumps(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def loads(cls, raw: bytes | str) -> WorkingOrder:
        return cls.model_validate_json(raw)

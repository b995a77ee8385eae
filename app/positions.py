"""Netting-mode positions per (account, symbol), built from fills. Pure, no Faust.

One signed quantity per (account, symbol): buys add, sells subtract. A fill that reduces
the position realizes PnL on the closed quantity; a fill that crosses through zero closes
the whole old position and opens the rest at the fill price.

**Exactness.** All arithmetic is ``Decimal`` in a context that traps ``Inexact``: sums and
products never round (a fill's quantity and price have at most 28 digits, so 100 digits
of precision leave ample room). The one division - the cost share of a partial close -
is rounded to ``COST_PLACES`` decimals, and its rounding stays in ``cost_basis``: a
position that ends flat therefore has realized exactly ``sells - buys - fees``.
``avg_price`` is ``cost_basis / quantity`` for display, rounded to ``PRICE_PLACES``.

**Fees.** Every fill's fee is added to ``fees`` and subtracted from ``realized_pnl`` when
the fill is applied, opening fills included: ``realized_pnl`` is net of all fees paid so
far, ``gross_realized_pnl`` is before fees. Fees are not capitalised into ``avg_price``,
which stays the pure execution price, comparable with market prices.

**Idempotency**, two ways, both O(1) in the position's size. Fills are keyed by
``position_key(account, symbol)``, so all fills of one position are on one partition, in
order. ``last_offset`` is the fills-partition offset of the last fill applied: a record
redelivered after a crash (offset at or below it) is skipped, however old. ``applied``
holds the ids of the last ``APPLIED_WINDOW`` fills: it catches the same fill produced
again as a new record, which the orders agent only does for the few records whose
acknowledgement it had not seen at a crash (``app.tables.effects``), so the duplicate
follows its original closely. ``fills_applied`` counts every fill ever applied, for
reconciliation against the fills topic.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from decimal import Context, Decimal, Inexact, localcontext

from pydantic import BaseModel, ConfigDict

from app.decimals import PlainDecimal
from app.errors import AtStreamError
from app.models import Fill, Side, position_key
from app.trusted import trusted

log = logging.getLogger(__name__)

APPLIED_WINDOW = 64
COST_PLACES = 24  # a quantity (12 places) times a price (12 places) has at most 24
PRICE_PLACES = 12

ZERO = Decimal(0)
_EXACT = Context(prec=100, traps=[Inexact])
_ROUNDING = Context(prec=100)


class PositionMismatch(AtStreamError):
    """A fill was applied to the position of another account or symbol."""

    def __init__(self, position: Position, fill: Fill) -> None:
        self.position_key = f"{position.account}|{position.symbol}"
        self.fill_key = f"{fill.account}|{fill.symbol}"
        super().__init__(
            f"fill {fill.fill_id} of {self.fill_key} applied to position {self.position_key}"
        )


class PositionArithmeticError(AtStreamError):
    """A fill's numbers exceed what exact arithmetic can hold (over 100 digits)."""

    def __init__(self, fill: Fill) -> None:
        self.fill_id = fill.fill_id
        super().__init__(f"fill {fill.fill_id}: amounts too large or too precise to net exactly")


class Position(BaseModel):
    """The netted position of one (account, symbol); immutable, one per fill applied."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account: str
    symbol: str
    quantity: PlainDecimal = ZERO
    """Signed: positive long, negative short, zero flat."""
    avg_price: PlainDecimal = ZERO
    """Average open price of the current quantity; 0 when flat."""
    cost_basis: PlainDecimal = ZERO
    """Signed open notional (quantity x open prices), kept unrounded by the closes."""
    realized_pnl: PlainDecimal = ZERO
    """Realized PnL net of every fee paid."""
    fees: PlainDecimal = ZERO
    updated_at: datetime | None = None
    fills_applied: int = 0
    last_offset: int = -1
    """Offset, in the fills partition, of the last fill applied (-1: none known)."""
    applied: tuple[str, ...] = ()
    """Ids of the last ``APPLIED_WINDOW`` fills applied, oldest first."""

    @classmethod
    def flat(cls, account: str, symbol: str) -> Position:
        return cls(account=account, symbol=symbol)

    @property
    def key(self) -> bytes:
        return position_key(self.account, self.symbol)

    @property
    def is_flat(self) -> bool:
        return self.quantity == 0

    @property
    def gross_realized_pnl(self) -> Decimal:
        """Realized PnL before fees."""
        with localcontext(_EXACT):
            return self.realized_pnl + self.fees

    def has_applied(self, fill_id: str) -> bool:
        return fill_id in self.applied

    def dumps(self) -> bytes:
        """JSON bytes for table storage; Decimals travel as strings."""
        return self.model_dump_json().encode()

    @classmethod
    def loads(cls, raw: bytes | str) -> Position:
        return cls.model_validate_json(raw)


def signed_quantity(fill: Fill) -> Decimal:
    return fill.quantity if fill.side is Side.BUY else -fill.quantity


def _sign(value: Decimal) -> int:
    return (value > 0) - (value < 0)


def _divide(numerator: Decimal, denominator: Decimal, places: int) -> Decimal:
    """``numerator / denominator``, exact when it fits, else rounded half-even to places."""
    with localcontext(_ROUNDING):
        quotient = numerator / denominator
        exponent = quotient.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -places:
            quotient = quotient.quantize(Decimal(1).scaleb(-places))
        return quotient


def _net(position: Position, fill: Fill) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """(quantity, cost basis, realized PnL, fees) after ``fill``, computed exactly."""
    with localcontext(_EXACT):
        delta = signed_quantity(fill)
        old_qty, cost, realized = position.quantity, position.cost_basis, position.realized_pnl
        if old_qty == 0 or _sign(old_qty) == _sign(delta):  # open or increase
            qty, cost = old_qty + delta, cost + delta * fill.price
        else:  # reduce, close, or cross through zero
            closed = min(abs(delta), abs(old_qty))
            if closed == abs(old_qty):
                released = cost
            else:  # the closed share of the cost; its rounding stays in the basis
                released = _divide(cost * closed, abs(old_qty), COST_PLACES)
            realized += _sign(old_qty) * closed * fill.price - released
            qty, cost = old_qty + delta, cost - released
            if _sign(qty) == _sign(delta):  # crossed zero: the rest opens at the fill price
                cost = qty * fill.price
        return qty, cost, realized - fill.fee, position.fees + fill.fee


def apply_fill(
    position: Position | None,
    fill: Fill,
    *,
    window: int = APPLIED_WINDOW,
    offset: int | None = None,
    order_applied_at: int | None = None,
) -> tuple[Position, bool]:
    """The position after ``fill``, and whether it was applied (False: a duplicate).

    ``position`` None means no fill yet: the position starts flat. A duplicate returns
    the very same position object.

    ``order_applied_at``: where the fill's order state says it applied this fill from (the
    record's offset on ``fills``; -1: at an unknown offset; None: not applied). The
    position has seen that fill if it has seen that record. The position decides for
    itself: the two tables are separate changelog records, so after a crash (a recovery
    that replays an older record, a restore on another worker) the position can lack a
    fill its order state has; the redelivered record must then still reach the position.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    if position is None:
        position = Position.flat(fill.account, fill.symbol)
    elif (position.account, position.symbol) != (fill.account, fill.symbol):
        raise PositionMismatch(position, fill)
    if offset is not None and offset <= position.last_offset:
        log.debug("fill record at offset %d already applied to %s", offset, position.key)
        return position, False
    if position.has_applied(fill.fill_id):
        log.debug("fill %s already applied to %s", fill.fill_id, position.key)
        return position, False
    if order_applied_at is not None and (
        order_applied_at < 0 or order_applied_at <= position.last_offset
    ):  # another record of this fill, whose original the position has seen
        log.debug("fill %s applied from offset %d", fill.fill_id, order_applied_at)
        return position, False
    try:
        qty, cost, realized, fees = _net(position, fill)
    except ArithmeticError:
        raise PositionArithmeticError(fill) from None
    new = trusted(  # computed from a valid position and fill: not validated again
        Position,
        account=position.account,
        symbol=position.symbol,
        quantity=qty,
        avg_price=ZERO if qty == 0 else _divide(cost, qty, PRICE_PLACES),
        cost_basis=cost,
        realized_pnl=realized,
        fees=fees,
        updated_at=fill.filled_at,
        fills_applied=position.fills_applied + 1,
        last_offset=position.last_offset if offset is None else offset,
        applied=(*position.applied, fill.fill_id)[-window:],
    )
    return new, True


def replay(fills: Iterable[Fill], position: Position | None = None) -> Position | None:
    """Apply ``fills`` in order, duplicates skipped; None if no fills and no start."""
    for fill in fills:
        position, _ = apply_fill(position, fill)
    return position

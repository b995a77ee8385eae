"""Reconciliation at start: the venue's open orders and positions against ours. Pure.

Nothing is overwritten: every difference is reported (a structured
:class:`ReconciliationReport`) and logged, and it is for the operator or the execution step
to act. What the venue did to our orders while we were away (fills, cancels) is not a
difference to repair here: the adapter follows those orders from *our* last known state, so
the catch-up arrives as ordinary lifecycle events through the log.

Kinds of difference:

- ``unknown_to_us``: an order open at the venue that we do not hold open (placed by hand,
  or by a submission we did not see answered);
- ``missing_at_venue``: an order we hold open that the venue does not have at all;
- ``closed_at_venue``: an order we hold open that the venue has closed (its status given;
  its events follow on ``updates``);
- ``order_mismatch``: open on both sides with another symbol, side, quantity or a filled
  quantity other than ours (``field``, ``ours``, ``at_venue``);
- ``position_mismatch``: a symbol whose net position differs (a missing side counts as 0).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from app.decimals import PlainDecimal, plain
from app.logs import fields
from app.models import Side
from app.order_state import OrderState
from app.venues.base import VenueOrder, VenuePosition

log = logging.getLogger(__name__)

ZERO = Decimal(0)


class DifferenceKind(StrEnum):
    UNKNOWN_TO_US = "unknown_to_us"
    MISSING_AT_VENUE = "missing_at_venue"
    CLOSED_AT_VENUE = "closed_at_venue"
    ORDER_MISMATCH = "order_mismatch"
    POSITION_MISMATCH = "position_mismatch"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OurOrder(_Frozen):
    """An order we hold open, as reconciliation and the adapter need it."""

    order_id: str
    symbol: str
    side: Side
    quantity: PlainDecimal
    filled_quantity: PlainDecimal = ZERO
    average_price: PlainDecimal | None = None
    correlation_id: str | None = None

    @classmethod
    def from_state(cls, state: OrderState, symbol: str | None = None) -> OurOrder:
        return cls(
            order_id=state.order_id,
            symbol=symbol or state.symbol,
            side=state.side,
            quantity=state.quantity,
            filled_quantity=state.filled_quantity,
            average_price=state.avg_fill_price if state.filled_quantity else None,
            correlation_id=state.correlation_id,
        )

    @property
    def open(self) -> bool:
        return self.filled_quantity < self.quantity


class Difference(_Frozen):
    kind: DifferenceKind
    symbol: str
    order_id: str | None = None
    venue_order_id: str | None = None
    field: str | None = None
    ours: str | None = None
    at_venue: str | None = None


class ReconciliationReport(_Frozen):
    venue: str
    checked_at: AwareDatetime
    our_open_orders: int
    venue_open_orders: int
    differences: tuple[Difference, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.differences

    def of_kind(self, kind: DifferenceKind) -> list[Difference]:
        return [d for d in self.differences if d.kind is kind]


def symbol_key(symbol: str) -> str:
    """Symbols compared without the pair slash: Alpaca lists crypto positions as BTCUSD."""
    return symbol.replace("/", "").upper()


def reconcile(
    venue: str,
    ours: Sequence[OurOrder],
    our_positions: Mapping[str, Decimal],
    venue_open: Sequence[VenueOrder],
    venue_positions: Sequence[VenuePosition],
    looked_up: Mapping[str, VenueOrder | None],
    at: datetime,
) -> ReconciliationReport:
    """Every difference between our state and the venue's.

    ``looked_up``: for each of our open orders absent from ``venue_open``, the venue's
    order under its id (closed there), or None when the venue has no such order.
    """
    diffs: list[Difference] = []
    by_id = {o.order_id: o for o in venue_open}
    mine = {o.order_id: o for o in ours}
    for our in ours:
        theirs = by_id.get(our.order_id)
        if theirs is not None:
            diffs.extend(_mismatches(our, theirs))
        elif (found := looked_up.get(our.order_id)) is None:
            diffs.append(_diff(DifferenceKind.MISSING_AT_VENUE, our.symbol, our.order_id))
        else:
            diffs.append(
                _diff(
                    DifferenceKind.CLOSED_AT_VENUE, our.symbol, our.order_id, found,
                    field="status", ours="open", at_venue=found.venue_status,
                )
            )  # fmt: skip
    for theirs in venue_open:
        if theirs.order_id not in mine:
            diffs.append(
                _diff(DifferenceKind.UNKNOWN_TO_US, theirs.symbol, theirs.order_id, theirs)
            )
    diffs.extend(_positions(our_positions, venue_positions))
    return ReconciliationReport(
        venue=venue,
        checked_at=at,
        our_open_orders=len(ours),
        venue_open_orders=len(venue_open),
        differences=tuple(diffs),
    )


def _diff(
    kind: DifferenceKind,
    symbol: str,
    order_id: str | None,
    theirs: VenueOrder | None = None,
    *,
    field: str | None = None,
    ours: str | None = None,
    at_venue: str | None = None,
) -> Difference:
    return Difference(
        kind=kind,
        symbol=symbol,
        order_id=order_id,
        venue_order_id=None if theirs is None else theirs.venue_order_id,
        field=field,
        ours=ours,
        at_venue=at_venue,
    )


def _mismatches(our: OurOrder, theirs: VenueOrder) -> Iterable[Difference]:
    pairs = (
        ("symbol", symbol_key(our.symbol), symbol_key(theirs.symbol)),
        ("side", our.side.value, theirs.side.value),
        ("quantity", our.quantity, theirs.quantity),
        ("filled_quantity", our.filled_quantity, theirs.filled_quantity),
    )
    for name, mine, venue in pairs:
        if mine != venue:
            yield _diff(
                DifferenceKind.ORDER_MISMATCH, our.symbol, our.order_id, theirs,
                field=name, ours=_text(mine), at_venue=_text(venue),
            )  # fmt: skip


def _positions(ours: Mapping[str, Decimal], venue: Sequence[VenuePosition]) -> Iterable[Difference]:
    mine: dict[str, tuple[str, Decimal]] = {}
    for symbol, qty in ours.items():
        key = symbol_key(symbol)
        name, total = mine.get(key, (symbol, ZERO))
        mine[key] = (name, total + qty)
    theirs: dict[str, tuple[str, Decimal]] = {}
    for pos in venue:
        key = symbol_key(pos.symbol)
        name, total = theirs.get(key, (pos.symbol, ZERO))
        theirs[key] = (name, total + pos.quantity)
    for key in sorted(mine.keys() | theirs.keys()):
        name, our_qty = mine.get(key, (theirs.get(key, ("", ZERO))[0], ZERO))
        venue_qty = theirs.get(key, ("", ZERO))[1]
        if our_qty != venue_qty:
            yield Difference(
                kind=DifferenceKind.POSITION_MISMATCH,
                symbol=name,
                field="quantity",
                ours=_text(our_qty),
                at_venue=_text(venue_qty),
            )


def _text(value: str | Decimal) -> str:
    return plain(value) if isinstance(value, Decimal) else value


def log_report(report: ReconciliationReport) -> None:
    """One line for the outcome, one warning per difference."""
    for diff in report.differences:
        log.warning(
            "venue reconciliation difference",
            extra=fields(venue=report.venue, **diff.model_dump(mode="json", exclude_none=True)),
        )
    level = logging.INFO if report.ok else logging.WARNING
    log.log(
        level,
        "venue reconciled",
        extra=fields(
            venue=report.venue,
            differences=len(report.differences),
            our_open_orders=report.our_open_orders,
            venue_open_orders=report.venue_open_orders,
        ),
    )

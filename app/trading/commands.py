"""What travels on ``orders``, the execution step's log, besides today's orders.

``orders`` is the one log the execution step reads, partition by partition: whatever
changes an order book arrives on it, in the order it is applied, so the same log and
seed give the same lifecycle events, byte for byte. Each record's ``at-kind`` header says
what it is (no header: an ``order``, as every record written before issue 12):

==================  ============================  ==========================================
kind                value                         key, partition
==================  ============================  ==========================================
``order``           :class:`app.models.Order`     ``account|symbol``
``target``          :class:`TargetRequest`        ``account|symbol`` (target_position/close)
``cancel``          :class:`CancelRequest`        ``account|symbol`` of the order
``quote``           :class:`QuoteTick`            the symbol, copied to *every* partition
``trading_state``   :class:`TradingStateChange`   the scope, copied to *every* partition
``venue_event``     :class:`~app.venues.base.     ``account|symbol`` of the order (an
                    VenueEvent`                   external venue's fill, cancel, expiry)
``clock``           :class:`ClockTick`            ``clock``, copied to *every* partition
==================  ============================  ==========================================

Quotes are keyed by symbol on ``quotes``, but the resting orders of one symbol live on
every partition (orders are keyed ``account|symbol``). The quotes agent copies each quote
to every partition of ``orders`` (a broadcast repartition): each partition's execution
step sees the quote at a definite place among its orders, so matching is deterministic
and needs no shared state between workers. A kill-switch change is copied the same way,
so every partition, on any worker, honours it from its place in the log on, and keeps it
in its changelog-backed book table across restarts.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.decimals import PlainDecimal, Positive
from app.errors import DecodeError
from app.models import EventId, Intent, Name, Order, OrderType, Symbol, TimeInForce
from app.topics import Headers, decode, decode_keyed, header_dict
from app.trading.errors import InvalidQuote
from app.trading.quotes import Quote, validate_quote
from app.trading.trading_state import TradingStateChange
from app.venues.base import VenueEvent

KIND_HEADER = "at-kind"


class Kind(StrEnum):
    ORDER = "order"
    TARGET = "target"
    CANCEL = "cancel"
    QUOTE = "quote"
    TRADING_STATE = "trading_state"
    VENUE_EVENT = "venue_event"
    CLOCK = "clock"


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def dumps(self) -> bytes:
        return self.model_dump_json().encode()


class TargetRequest(_Command):
    """A ``target_position`` or ``close`` intent for one account: the execution step sends
    the delta from the account's position and open orders (``close``: target 0)."""

    v: Literal[1] = 1
    order_id: EventId
    signal_id: EventId
    intent: Intent
    target: PlainDecimal
    account: Name
    strategy: Name
    symbol: Symbol
    order_type: OrderType
    limit_price: Positive | None = None
    stop_price: Positive | None = None
    price: Positive | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    created_at: AwareDatetime


class CancelRequest(_Command):
    """Cancel an open order; ``cancel_id`` derives from the order id, so asking twice is
    one request (and the second finds the order cancelled: no event)."""

    v: Literal[1] = 1
    cancel_id: EventId
    order_id: EventId
    account: Name
    symbol: Symbol
    reason: str = Field("cancel requested", max_length=500)
    actor: str = Field("", max_length=128)
    requested_at: AwareDatetime


class CancelBody(_Command):
    """The (optional) body of ``POST /orders/{order_id}/cancel``."""

    reason: str = Field("cancel requested", max_length=500)


class QuoteTick(_Command):
    """One quote of ``quotes``, copied to a partition of ``orders``; ``source_partition``
    and ``source_offset`` say where it was on ``quotes`` (a copy seen twice is skipped)."""

    v: Literal[1] = 1
    quote: Quote
    source_partition: int = Field(ge=0)
    source_offset: int = Field(ge=0)


class ClockTick(_Command):
    """The time, written to every partition of ``orders`` by the execution clock
    (``app.clock``): ``day`` orders whose session closed by ``at`` expire, in their place
    in the log, even when no quote comes."""

    v: Literal[1] = 1
    at: AwareDatetime


Command = (
    Order | TargetRequest | CancelRequest | QuoteTick | TradingStateChange | VenueEvent | ClockTick
)


def kind_of(headers: Headers) -> str:
    raw = header_dict(headers).get(KIND_HEADER)
    return Kind.ORDER.value if raw is None else bytes(raw).decode("utf-8", "replace")


def decode_command(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> Command:
    """The record as its kind; :class:`DecodeError` with the reason if it is not one."""
    kind = kind_of(headers)
    if kind == Kind.ORDER:
        return decode_keyed(Order, topic, key, value)
    if kind == Kind.TARGET:
        return decode_keyed(TargetRequest, topic, key, value)
    if kind == Kind.CANCEL:
        return decode_keyed(CancelRequest, topic, key, value)
    if kind == Kind.QUOTE:
        tick = decode(QuoteTick, topic, value)
        try:
            validate_quote(tick.quote)
        except InvalidQuote as exc:
            raise DecodeError(topic, str(exc)) from None
        return tick
    if kind == Kind.TRADING_STATE:
        return decode(TradingStateChange, topic, value)
    if kind == Kind.CLOCK:
        return decode(ClockTick, topic, value)
    if kind == Kind.VENUE_EVENT:
        return decode(VenueEvent, topic, value)  # found by its order id in the partition
    known = ", ".join(k.value for k in Kind)
    raise DecodeError(topic, f"unknown {KIND_HEADER} header {kind[:40]!r} (known: {known})")


def kind_headers(kind: Kind, headers: dict[str, bytes] | None = None) -> dict[str, bytes]:
    return {**(headers or {}), KIND_HEADER: kind.value.encode()}


COMMAND_TYPES: dict[str, type[BaseModel]] = {
    "quotes": Quote,
    f"orders.{Kind.TARGET.value}": TargetRequest,
    f"orders.{Kind.CANCEL.value}": CancelRequest,
    f"orders.{Kind.QUOTE.value}": QuoteTick,
    f"orders.{Kind.TRADING_STATE.value}": TradingStateChange,
    f"orders.{Kind.VENUE_EVENT.value}": VenueEvent,
    f"orders.{Kind.CLOCK.value}": ClockTick,
}
"""The value types of ``quotes`` and of the ``orders`` records that are not orders, by
``<topic>.<at-kind>``."""


def schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema (draft 2020-12) of each, shaped like :func:`app.models.schemas`."""
    out: dict[str, dict[str, Any]] = {}
    for name, model in COMMAND_TYPES.items():
        schema = model.model_json_schema(mode="serialization")
        schema["$id"] = f"https://at-stream.dev/schemas/{name}.v1.json"
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        out[name] = schema
    return out

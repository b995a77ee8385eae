"""Event schemas, defined once. Each topic's value is one of these, versioned by ``v``.

Money and quantities are ``Decimal`` and travel as JSON strings. ``schemas()`` exports
the JSON Schema of every topic's value type for consumers in other languages.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from app.decimals import NonNegative, Positive

SCHEMA_VERSION: Literal[1] = 1

Symbol = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9.:/_\-]{0,31}$", examples=["AAPL"])]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")]
EventId = Annotated[str, Field(min_length=36, max_length=36)]


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"


class TimeInForce(StrEnum):
    GTC = "gtc"
    DAY = "day"
    IOC = "ioc"
    FOK = "fok"


_NEEDS_LIMIT = {OrderType.LIMIT, OrderType.STOP_LIMIT}
_NEEDS_STOP = {OrderType.STOP, OrderType.STOP_LIMIT}


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def dumps(self) -> bytes:
        return self.model_dump_json().encode()


class SignalIn(_Event):
    """What a provider posts to the webhook."""

    symbol: Symbol
    side: Side
    quantity: Positive
    order_type: OrderType = OrderType.MARKET
    limit_price: Positive | None = None
    stop_price: Positive | None = None
    price: Positive | None = Field(
        None, description="Reference price at alert time; market orders fill at it."
    )
    time_in_force: TimeInForce = TimeInForce.GTC
    account: Name
    strategy: Name
    timestamp: AwareDatetime | None = Field(None, description="Provider's clock.")

    @model_validator(mode="after")
    def _prices(self) -> SignalIn:
        kind = self.order_type.value
        if (self.limit_price is None) == (self.order_type in _NEEDS_LIMIT):
            need = "is required" if self.order_type in _NEEDS_LIMIT else "is not allowed"
            raise ValueError(f"limit_price {need} for a {kind} order")
        if (self.stop_price is None) == (self.order_type in _NEEDS_STOP):
            need = "is required" if self.order_type in _NEEDS_STOP else "is not allowed"
            raise ValueError(f"stop_price {need} for a {kind} order")
        if self.order_type is OrderType.MARKET and self.price is None:
            raise ValueError("price (the reference price) is required for a market order")
        return self


class Signal(SignalIn):
    """A verified signal as recorded on the ``signals`` topic."""

    v: Literal[1] = SCHEMA_VERSION
    signal_id: EventId
    provider: str = "default"
    received_at: AwareDatetime
    unknown_fields: dict[str, Any] = Field(
        default_factory=dict, description="Fields a lenient provider sent that we do not know."
    )

    @property
    def key(self) -> bytes:
        return position_key(self.account, self.symbol)


class Order(_Event):
    """One order per signal, on the ``orders`` topic."""

    v: Literal[1] = SCHEMA_VERSION
    order_id: EventId
    signal_id: EventId
    account: Name
    strategy: Name
    symbol: Symbol
    side: Side
    quantity: Positive
    order_type: OrderType
    limit_price: Positive | None = None
    stop_price: Positive | None = None
    price: Positive | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    created_at: AwareDatetime


class Fill(_Event):
    """An execution of an order, on the ``fills`` topic."""

    v: Literal[1] = SCHEMA_VERSION
    fill_id: EventId
    order_id: EventId
    signal_id: EventId
    account: Name
    symbol: Symbol
    side: Side
    quantity: Positive
    price: Positive
    fee: NonNegative = Decimal(0)
    order_quantity: Positive | None = Field(
        None, description="The whole order's quantity (lets state be rebuilt from fills)."
    )
    filled_at: AwareDatetime


class DeadLetter(_Event):
    """A record an agent could not process, with why."""

    v: Literal[1] = SCHEMA_VERSION
    source_topic: str
    partition: int
    offset: int
    reason: str
    key: str | None
    value: str = Field(description="The original value, decoded as UTF-8 with replacement.")


def position_key(account: str, symbol: str) -> bytes:
    """The partitioning key: every event of one (account, symbol) stays in order."""
    return f"{account}|{symbol}".encode()


TOPIC_TYPES: dict[str, type[_Event]] = {
    "signals": Signal,
    "orders": Order,
    "fills": Fill,
    "dead-letters": DeadLetter,
}


def schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema (draft 2020-12) of each topic's value, keyed by logical topic name."""
    out: dict[str, dict[str, Any]] = {}
    for topic, model in TOPIC_TYPES.items():
        schema = model.model_json_schema(mode="serialization")
        schema["$id"] = f"https://at-stream.dev/schemas/{topic}.v{SCHEMA_VERSION}.json"
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        out[topic] = schema
    return out

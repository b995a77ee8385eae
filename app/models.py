"""Event schemas, defined once. Each topic's value is one of these, versioned by ``v``.

Money and quantities are ``Decimal`` and travel as JSON strings. ``schemas()`` exports
the JSON Schema of every topic's value type for consumers in other languages.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.decimals import NonNegative, Positive, Signed

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


class Intent(StrEnum):
    """What a signal means (issue 12): ``order`` trades ``side`` ``quantity``;
    ``target_position`` goes to the signed ``target`` (the engine sends the delta from the
    position); ``close`` flattens."""

    ORDER = "order"
    TARGET_POSITION = "target_position"
    CLOSE = "close"


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
    intent: Intent = Field(
        Intent.ORDER,
        description="order (side, quantity), target_position (target) or close (neither).",
    )
    side: Side | None = Field(
        None, validate_default=True, description="Required for an order intent."
    )
    quantity: Positive | None = Field(
        None, validate_default=True, description="Required for an order intent."
    )
    target: Signed | None = Field(
        None,
        validate_default=True,
        description="Signed target position of a target_position intent (10 long, -5 "
        "short, 0 flat); TradingView: {{strategy.position_size}}.",
    )
    order_type: OrderType = OrderType.MARKET
    limit_price: Positive | None = None
    stop_price: Positive | None = None
    price: Positive | None = Field(
        None,
        description="Reference price at alert time; with no quote known, market orders fill at it.",
    )
    time_in_force: TimeInForce = TimeInForce.GTC
    account: Name
    strategy: Name
    timestamp: AwareDatetime | None = Field(None, description="Provider's clock.")

    @field_validator("side", "quantity", "target", mode="after")
    @classmethod
    def _per_intent(cls, value: Any, info: ValidationInfo) -> Any:
        """side and quantity for an order intent, target for a target_position one; each
        error at its field (a missing one as pydantic's own ``missing``)."""
        intent = info.data.get("intent")
        if intent is None:  # the intent itself is invalid: reported there
            return value
        wanted = (intent is Intent.ORDER) == (info.field_name != "target")
        if intent is Intent.CLOSE:
            wanted = False
        if wanted and value is None:
            raise PydanticCustomError("missing", "Field required")
        if not wanted and value is not None:
            raise ValueError(f"{info.field_name} is not allowed for a {intent.value} intent")
        return value

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

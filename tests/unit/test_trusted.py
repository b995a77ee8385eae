from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from app.models import Fill, OrderType, Side, TimeInForce
from app.order_state import OrderStatus
from app.trading.events import OrderEvent
from app.trusted import trusted, updated

ID = "3b8f2a4e-1c2d-5e6f-8a9b-0c1d2e3f4a5b"
AT = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


def _event_values() -> dict[str, Any]:
    return {
        "event_id": ID,
        "seq": 2,
        "status": OrderStatus.FILLED,
        "order_id": ID,
        "signal_id": ID,
        "fill_id": ID,
        "account": "acct-1",
        "strategy": "momentum",
        "symbol": "AAPL",
        "side": Side.BUY,
        "order_type": OrderType.MARKET,
        "time_in_force": TimeInForce.GTC,
        "order_quantity": Decimal("10"),
        "last_quantity": Decimal("10"),
        "last_price": Decimal("100.5"),
        "cumulative_quantity": Decimal("10"),
        "average_price": Decimal("100.5"),
        "leaves_quantity": Decimal("0"),
        "event_time": AT,
        "correlation_id": "corr-0001",
    }


@pytest.mark.parametrize(
    ("cls", "values"),
    [
        (OrderEvent, _event_values()),
        (
            Fill,
            {
                "fill_id": ID,
                "order_id": ID,
                "signal_id": ID,
                "account": "acct-1",
                "symbol": "AAPL",
                "side": Side.SELL,
                "quantity": Decimal("3"),
                "price": Decimal("9.99"),
                "filled_at": AT,
            },
        ),
    ],
)
def test_trusted_makes_what_model_construct_makes(
    cls: type[BaseModel], values: dict[str, Any]
) -> None:
    """Fails when a pydantic upgrade changes what an instance holds: then app.trusted
    must follow ``model_construct`` again."""
    ours, theirs = trusted(cls, **values), cls.model_construct(**values)
    assert ours == theirs
    assert list(vars(ours).items()) == list(vars(theirs).items())
    assert ours.model_fields_set == theirs.model_fields_set
    assert ours.__pydantic_extra__ == theirs.__pydantic_extra__
    assert ours.__pydantic_private__ == theirs.__pydantic_private__
    slots = [s for c in type(theirs).__mro__ for s in getattr(c, "__slots__", ())]
    assert set(slots) <= {
        "__dict__",
        "__pydantic_fields_set__",
        "__pydantic_extra__",
        "__pydantic_private__",
    }
    assert (
        ours.model_dump_json()
        == theirs.model_dump_json()
        == cls.model_validate(values).model_dump_json()
    )


@pytest.mark.parametrize(
    "changes",
    [{"seq": 3}, {"status": OrderStatus.CANCELLED, "reason": "gone", "seq": 3}, {}],
)
def test_updated_makes_what_model_copy_makes(changes: dict[str, Any]) -> None:
    """Fails when a pydantic upgrade changes what ``model_copy`` makes."""
    values = _event_values()
    for base in (OrderEvent.model_validate(values), trusted(OrderEvent, **values)):
        ours, theirs = updated(base, **changes), base.model_copy(update=changes)
        assert ours == theirs
        assert list(vars(ours).items()) == list(vars(theirs).items())
        assert ours.model_fields_set == theirs.model_fields_set
        assert ours.__pydantic_extra__ == theirs.__pydantic_extra__
        assert ours.__pydantic_private__ == theirs.__pydantic_private__
        assert ours.model_dump_json() == theirs.model_dump_json()
        assert vars(base) == vars(OrderEvent.model_validate(_event_values()))  # untouched
    with pytest.raises(TypeError, match="no field colour"):
        updated(base, colour="red")


def test_unknown_and_missing_fields_are_refused() -> None:
    with pytest.raises(TypeError, match="no field colour"):
        trusted(OrderEvent, **_event_values(), colour="red")
    values = _event_values()
    del values["event_id"]
    with pytest.raises(TypeError, match="event_id is required"):
        trusted(OrderEvent, **values)


def test_models_it_cannot_build_are_refused() -> None:
    class Aliased(BaseModel):
        x: int = Field(alias="y")

    class Factory(BaseModel):
        x: list[int] = Field(default_factory=list)

    class Open(BaseModel):
        model_config = ConfigDict(extra="allow")

    for cls in (Aliased, Factory, Open):
        with pytest.raises(TypeError):
            trusted(cls)

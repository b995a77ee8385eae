"""Unit tests of app.trading.events: the lifecycle event schema, ids and conversions."""

from __future__ import annotations

import json

import jsonschema_rs
import pytest
from pydantic import ValidationError

from app.ids import fill_id_for
from app.models import Fill
from app.order_state import OrderStatus
from app.trading.events import (
    ORDER_EVENTS_TOPIC,
    OrderEvent,
    ReasonCode,
    average,
    event_id_for,
    rejected_event,
    schemas,
    to_fill,
)
from app.trading.matching import run
from tests.unit.trading.samples import ORDER_ID, D, order, quote, venue


def test_event_ids_derive_from_order_and_sequence() -> None:
    assert event_id_for(ORDER_ID, 1) == event_id_for(ORDER_ID, 1)
    assert event_id_for(ORDER_ID, 1) != event_id_for(ORDER_ID, 2)
    assert len(event_id_for(ORDER_ID, 1)) == 36


def test_fill_event_carries_last_and_cumulative_named_plainly() -> None:
    v = venue(partial={"max_per_step": "30"}, fees={"taker_bps": "10"})
    _, events = run(order(), [quote(ask="100", seconds=1), quote(ask="102", seconds=2)], v)
    second = events[2]
    assert second.status is OrderStatus.PARTIALLY_FILLED
    assert (second.last_quantity, second.last_price) == (D(30), D(102))
    assert (second.cumulative_quantity, second.average_price) == (D(60), D(101))
    assert second.leaves_quantity == D(40) and second.fill_id == fill_id_for(ORDER_ID, 2)
    assert second.commission == D("3.06") and second.cumulative_commission == D("6.06")
    wire = json.loads(second.dumps())
    for name in (
        "last_quantity",
        "last_price",
        "cumulative_quantity",
        "average_price",
        "commission",
        "leaves_quantity",
        "order_quantity",
    ):
        assert isinstance(wire[name], str), name
    assert wire["status"] == "partially_filled" and wire["v"] == 1
    assert OrderEvent.model_validate_json(second.dumps()) == second


def test_rejected_event_has_reason_and_nothing_open() -> None:
    event = rejected_event(order(), ReasonCode.MAX_ORDER_NOTIONAL, "too big")
    assert event.status is OrderStatus.REJECTED and event.seq == 1
    assert event.reason_code is ReasonCode.MAX_ORDER_NOTIONAL and event.reason == "too big"
    assert event.leaves_quantity == 0 and event.fill_id is None
    assert event.key == b"acct-1|AAPL"
    with pytest.raises(ValueError, match="is not a fill"):
        to_fill(event)


def test_to_fill_is_todays_fill() -> None:
    _, events = run(order(), [quote()], venue(fees={"per_share": "0.01"}))
    fill = to_fill(events[1])
    assert isinstance(fill, Fill)
    assert fill.fill_id == fill_id_for(ORDER_ID) and fill.fee == D(1)
    assert fill.quantity == D(100) and fill.price == D("100.01") and fill.order_quantity == D(100)


def test_average_is_exact_or_rounded_to_twelve_places() -> None:
    assert average(D(0), D(0)) is None
    assert average(D(201), D(2)) == D("100.5")
    assert average(D(100), D(3)) == D("33.333333333333")


def test_events_refuse_unknown_fields_and_statuses() -> None:
    _, events = run(order(), [quote()], venue())
    data = json.loads(events[1].dumps())
    with pytest.raises(ValidationError):
        OrderEvent.model_validate({**data, "extra": 1})
    with pytest.raises(ValidationError):
        OrderEvent.model_validate({**data, "status": "new"})


def test_schema_is_exported_like_the_topic_schemas() -> None:
    out = schemas()
    assert set(out) == {ORDER_EVENTS_TOPIC}
    schema = out[ORDER_EVENTS_TOPIC]
    assert schema["$id"] == "https://at-stream.dev/schemas/order-events.v1.json"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "OrderEvent" and schema["additionalProperties"] is False
    assert schema["properties"]["v"]["const"] == 1
    for name in ("last_quantity", "cumulative_quantity", "commission"):
        assert schema["properties"][name]["type"] == "string"
    statuses = schema["$defs"]["OrderStatus"]["enum"]
    assert statuses == [s.value for s in OrderStatus]
    assert set(schema["$defs"]["ReasonCode"]["enum"]) == {c.value for c in ReasonCode}
    json.dumps(schema)
    schemas()[ORDER_EVENTS_TOPIC]["$id"] = "mutated"
    assert schemas()[ORDER_EVENTS_TOPIC]["$id"].endswith("order-events.v1.json")


def test_events_validate_against_their_json_schema() -> None:
    validator = jsonschema_rs.validator_for(schemas()[ORDER_EVENTS_TOPIC])
    _, events = run(
        order(time_in_force="ioc"),
        [quote(ask_size="10")],
        venue(partial={"share_of_quote_size": "1"}),
    )
    assert len(events) == 3
    for event in events:
        validator.validate(json.loads(event.dumps()))

"""Unit tests of app.execution.commands_for (a signal's commands on ``orders``, per routed
account) and of app.trading.commands.decode_command (each kind, by its header)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from app.errors import DecodeError
from app.execution import Command, commands_for, order_for
from app.ids import derive, order_id_for
from app.models import Intent, Order, Side, Signal
from app.topics import Headers
from app.trading.commands import (
    KIND_HEADER,
    CancelRequest,
    Kind,
    QuoteTick,
    TargetRequest,
    decode_command,
    kind_headers,
)
from app.trading.intents import Route, Routes, parse_routes, routed_order_id
from app.trading.quotes import Quote
from app.trading.trading_state import TradingState, TradingStateChange
from tests.unit.test_execution import RECEIVED, SIGNAL_ID
from tests.unit.test_execution import _signal as signal

TOPIC = "orders"

ROUTES = Routes(
    strategies={
        "momentum": (
            Route(account="acct-a", multiplier=Decimal(2)),
            Route(account="acct-b", multiplier=Decimal("0.5"), quantity_increment=Decimal(1)),
        )
    }
)


def target_signal(intent: Intent, target: str | None = None, **overrides: Any) -> Signal:
    return signal(intent=intent, side=None, quantity=None, target=target, **overrides)


def orders_of(commands: list[Command]) -> list[Order]:
    out = []
    for command in commands:
        assert command.kind is Kind.ORDER and isinstance(command.value, Order)
        out.append(command.value)
    return out


def targets_of(commands: list[Command]) -> list[TargetRequest]:
    out = []
    for command in commands:
        assert command.kind is Kind.TARGET and isinstance(command.value, TargetRequest)
        out.append(command.value)
    return out


# -- commands_for: orders -----------------------------------------------------------------


def test_an_unrouted_order_signal_gives_todays_order_byte_for_byte() -> None:
    s = signal(strategy="unrouted")
    commands, skipped = commands_for(s, ROUTES)
    assert skipped == []
    (command,) = commands
    assert command.kind is Kind.ORDER
    assert command.key == b"acct-1|AAPL"
    assert command.value.dumps() == order_for(s).dumps()
    assert command.value.order_id == order_id_for(SIGNAL_ID)


def test_no_routes_at_all_is_unrouted() -> None:
    s = signal()
    (command,), _ = commands_for(s, Routes())
    assert command.value.dumps() == order_for(s).dumps()


def test_a_routed_order_fans_out_one_order_per_account() -> None:
    s = signal(quantity="10.5")
    commands, skipped = commands_for(s, ROUTES)
    assert skipped == []
    assert [c.key for c in commands] == [b"acct-a|AAPL", b"acct-b|AAPL"]
    a, b = orders_of(commands)
    assert a.order_id == routed_order_id(SIGNAL_ID, "acct-a", True)
    assert a.order_id == derive("order", SIGNAL_ID, "acct-a")
    assert b.order_id == routed_order_id(SIGNAL_ID, "acct-b", True)
    assert len({a.order_id, b.order_id, order_id_for(SIGNAL_ID)}) == 3
    assert (a.account, a.quantity) == ("acct-a", Decimal(21))
    assert (b.account, b.quantity) == ("acct-b", Decimal(5))  # 5.25 rounded down to 1
    for order in (a, b):
        assert order.signal_id == SIGNAL_ID and order.side is Side.BUY
        assert order.symbol == "AAPL" and order.strategy == "momentum"
        assert order.price == Decimal("187.25") and order.created_at == RECEIVED
    assert b'"quantity":"21.0"' in a.dumps()  # plain notation on the wire, no exponent
    assert b'"quantity":"5"' in b.dumps()


def test_a_routed_order_is_deterministic() -> None:
    first, _ = commands_for(signal(), ROUTES)
    again, _ = commands_for(Signal.model_validate_json(signal().dumps()), ROUTES)
    assert [(c.kind, c.key, c.value.dumps()) for c in first] == [
        (c.kind, c.key, c.value.dumps()) for c in again
    ]


def test_a_quantity_rounding_to_zero_is_skipped_with_a_line() -> None:
    commands, skipped = commands_for(signal(quantity="1.5"), ROUTES)  # acct-b: 0.75 -> 0
    assert [c.key for c in commands] == [b"acct-a|AAPL"]
    assert orders_of(commands)[0].quantity == Decimal(3)
    (line,) = skipped
    assert line.startswith("acct-b:") and "1.5" in line and "0.5" in line


def test_routes_from_toml_fan_out_too() -> None:
    routes = parse_routes(
        '[strategies]\nmomentum = [{ account = "x", multiplier = "3" }, { account = "y" }]'
    )
    commands, _ = commands_for(signal(quantity="2"), routes)
    assert [(o.account, o.quantity) for o in orders_of(commands)] == [
        ("x", Decimal(6)),
        ("y", Decimal(2)),
    ]


# -- commands_for: targets ----------------------------------------------------------------


def test_a_routed_target_scales_by_each_multiplier_keeping_its_sign() -> None:
    commands, skipped = commands_for(target_signal(Intent.TARGET_POSITION, "-5"), ROUTES)
    assert skipped == []
    assert [c.key for c in commands] == [b"acct-a|AAPL", b"acct-b|AAPL"]
    a, b = targets_of(commands)
    assert (a.account, a.target) == ("acct-a", Decimal(-10))
    assert (b.account, b.target) == ("acct-b", Decimal(-2))  # -2.5 toward zero, to 1
    assert a.order_id == routed_order_id(SIGNAL_ID, "acct-a", True)
    assert b.order_id == routed_order_id(SIGNAL_ID, "acct-b", True)
    for request in (a, b):
        assert request.intent is Intent.TARGET_POSITION and request.signal_id == SIGNAL_ID
        assert request.price == Decimal("187.25") and request.created_at == RECEIVED


def test_a_positive_target_scales_too() -> None:
    commands, _ = commands_for(target_signal(Intent.TARGET_POSITION, "7"), ROUTES)
    assert [t.target for t in targets_of(commands)] == [Decimal(14), Decimal(3)]


def test_close_targets_zero_on_every_account() -> None:
    commands, skipped = commands_for(target_signal(Intent.CLOSE), ROUTES)
    assert skipped == []
    requests = targets_of(commands)
    assert [(t.account, t.target, t.intent) for t in requests] == [
        ("acct-a", Decimal(0), Intent.CLOSE),
        ("acct-b", Decimal(0), Intent.CLOSE),
    ]


def test_an_unrouted_target_keeps_its_value_and_todays_order_id() -> None:
    s = target_signal(
        Intent.TARGET_POSITION, "-3.25", strategy="other", order_type="limit", limit_price="180"
    )
    (command,), _ = commands_for(s, ROUTES)
    assert command.kind is Kind.TARGET and command.key == b"acct-1|AAPL"
    (request,) = targets_of([command])
    assert request.target == Decimal("-3.25")
    assert request.order_id == order_id_for(SIGNAL_ID)
    assert request.limit_price == Decimal(180)


# -- decode_command -----------------------------------------------------------------------


def _tick(bid: str, ask: str) -> QuoteTick:
    quote = Quote.model_validate({"symbol": "AAPL", "bid": bid, "ask": ask, "at": RECEIVED})
    return QuoteTick(quote=quote, source_partition=2, source_offset=41)


def test_a_record_without_a_kind_header_is_an_order() -> None:
    order = order_for(signal())
    shapes: list[Headers] = [None, {}, [("other", b"x")]]
    for headers in shapes:
        decoded = decode_command(TOPIC, b"acct-1|AAPL", order.dumps(), headers)
        assert decoded == order
    assert decode_command(TOPIC, b"acct-1|AAPL", order.dumps(), kind_headers(Kind.ORDER)) == order


def test_each_kind_decodes_by_its_header() -> None:
    (target_command,), _ = commands_for(target_signal(Intent.TARGET_POSITION, "4"), Routes())
    cancel = CancelRequest(
        cancel_id=derive("cancel", order_id_for(SIGNAL_ID)),
        order_id=order_id_for(SIGNAL_ID),
        account="acct-1",
        symbol="AAPL",
        requested_at=RECEIVED,
    )
    change = TradingStateChange(change_id="c-1", scope="*", state=TradingState.HALTED, at=RECEIVED)
    tick = _tick("99.99", "100.01")
    cases: list[tuple[Kind, bytes | None, Any]] = [
        (Kind.TARGET, target_command.key, target_command.value),
        (Kind.CANCEL, b"acct-1|AAPL", cancel),
        (Kind.QUOTE, None, tick),
        (Kind.TRADING_STATE, b"*", change),
    ]
    for kind, key, value in cases:
        as_list = list(kind_headers(kind, {"x-other": b"1"}).items())
        decoded = decode_command(TOPIC, key, value.dumps(), as_list)
        assert type(decoded) is type(value) and decoded == value


def test_a_target_under_another_key_is_refused() -> None:
    (command,), _ = commands_for(target_signal(Intent.CLOSE), Routes())
    with pytest.raises(DecodeError, match=re.escape("is not the value's account|symbol")):
        decode_command(TOPIC, b"acct-2|AAPL", command.value.dumps(), kind_headers(Kind.TARGET))


def test_an_unknown_kind_names_the_header() -> None:
    order = order_for(signal())
    with pytest.raises(DecodeError) as caught:
        decode_command(TOPIC, b"acct-1|AAPL", order.dumps(), {KIND_HEADER: b"bogus"})
    assert caught.value.topic == TOPIC
    assert KIND_HEADER in caught.value.reason and "bogus" in caught.value.reason
    assert "quote" in caught.value.reason  # the known kinds are listed


def test_a_value_of_another_kind_is_refused() -> None:
    order = order_for(signal())
    with pytest.raises(DecodeError, match="QuoteTick"):
        decode_command(TOPIC, None, order.dumps(), kind_headers(Kind.QUOTE))


def test_a_crossed_quote_is_refused() -> None:
    crossed = _tick("99.99", "100.01").model_copy(
        update={
            "quote": Quote.model_validate(
                {"symbol": "AAPL", "bid": "100.02", "ask": "100.01", "at": RECEIVED}
            )
        }
    )
    with pytest.raises(DecodeError) as caught:
        decode_command(TOPIC, b"AAPL", crossed.dumps(), kind_headers(Kind.QUOTE))
    assert "above ask" in caught.value.reason and "AAPL" in caught.value.reason


def test_a_tombstone_is_refused() -> None:
    with pytest.raises(DecodeError, match="tombstone"):
        decode_command(TOPIC, b"AAPL", None, kind_headers(Kind.QUOTE))

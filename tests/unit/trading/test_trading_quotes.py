"""Unit tests of app.trading.quotes."""

from __future__ import annotations

import pytest

from app.models import Side
from app.trading.errors import InvalidQuote
from app.trading.quotes import parse_quote, reference_quote, validate_quote
from tests.unit.trading.samples import T0, D, quote


def test_touch_and_sizes() -> None:
    q = quote("99", "101", bid_size="5", ask_size="7")
    assert q.touch(Side.BUY) == D(101) and q.touch(Side.SELL) == D(99)
    assert q.touch_size(Side.BUY) == D(7) and q.touch_size(Side.SELL) == D(5)


def test_trigger_price_uses_the_extreme_of_touch_and_last() -> None:
    q = quote("99", "101", last="102")
    assert q.trigger_price(Side.BUY) == D(102) and q.trigger_price(Side.SELL) == D(99)
    assert quote(None, None, last="100").trigger_price(Side.SELL) == D(100)
    assert quote(None, "101").trigger_price(Side.SELL) is None


def test_validate_refuses_crossed_and_empty_quotes() -> None:
    with pytest.raises(InvalidQuote, match="bid 101 is above ask 100"):
        validate_quote(quote("101", "100"))
    with pytest.raises(InvalidQuote, match="no bid, ask or last"):
        validate_quote(quote(None, None))
    assert validate_quote(quote("100", "100")).bid == D(100)


def test_parse_quote() -> None:
    q = quote(bid_size="0")
    assert parse_quote(q.dumps()) == q
    with pytest.raises(InvalidQuote, match="bid: Input should be greater than 0"):
        parse_quote(b'{"symbol": "AAPL", "bid": "0", "at": "2024-03-04T15:00:00Z"}')
    with pytest.raises(InvalidQuote, match="at: Field required"):
        parse_quote(b'{"symbol": "AAPL", "bid": "1"}')


def test_reference_quote() -> None:
    q = reference_quote("AAPL", D("187.25"), T0)
    assert (q.bid, q.ask, q.last, q.ask_size) == (D("187.25"), D("187.25"), D("187.25"), None)

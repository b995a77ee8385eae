"""Top-of-book quotes per symbol: what the simulator matches resting orders against.

A quote carries the best bid and ask with their sizes, and optionally the last trade
price and size. ``bid_size``/``ask_size`` None means unknown (no partial-fill cap from
the quote); 0 means nothing is offered at that price. A one-sided quote (no bid or no
ask) is allowed; an order can only fill against the side it needs.

The signal's reference price becomes a quote with :func:`reference_quote`: bid, ask and
last all at that price, sizes unknown. That keeps one matching path for both sources.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from app.decimals import NonNegative, Positive
from app.models import Side, Symbol
from app.trading.errors import InvalidQuote
from app.trusted import trusted


class Quote(BaseModel):
    """The market of one symbol at ``at``; immutable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = 1
    symbol: Symbol
    bid: Positive | None = None
    ask: Positive | None = None
    last: Positive | None = None
    bid_size: NonNegative | None = None
    ask_size: NonNegative | None = None
    last_size: NonNegative | None = None
    at: AwareDatetime

    def touch(self, side: Side) -> Decimal | None:
        """The price an order of ``side`` takes: the ask for a buy, the bid for a sell."""
        return self.ask if side is Side.BUY else self.bid

    def touch_size(self, side: Side) -> Decimal | None:
        """The size offered to an order of ``side`` (None: unknown, no cap)."""
        return self.ask_size if side is Side.BUY else self.bid_size

    def trigger_price(self, side: Side) -> Decimal | None:
        """The price a stop of ``side`` compares with: for a buy stop the highest of ask
        and last, for a sell stop the lowest of bid and last (either one reaching the stop
        triggers it)."""
        if side is Side.BUY:
            prices = [p for p in (self.ask, self.last) if p is not None]
            return max(prices) if prices else None
        prices = [p for p in (self.bid, self.last) if p is not None]
        return min(prices) if prices else None

    def dumps(self) -> bytes:
        return self.model_dump_json().encode()


def validate_quote(quote: Quote) -> Quote:
    """``quote`` if it is consistent, else :class:`InvalidQuote`: a crossed book (bid
    above ask) and a quote with no price at all are refused."""
    if quote.bid is not None and quote.ask is not None and quote.bid > quote.ask:
        raise InvalidQuote(quote.symbol, f"bid {quote.bid} is above ask {quote.ask}")
    if quote.bid is None and quote.ask is None and quote.last is None:
        raise InvalidQuote(quote.symbol, "has no bid, ask or last price")
    return quote


def parse_quote(raw: bytes | str) -> Quote:
    """A quote from JSON; :class:`InvalidQuote` with the first problem if it is bad."""
    try:
        quote = Quote.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "value"
        raise InvalidQuote("?", f"{where}: {first['msg']}") from None
    return validate_quote(quote)


def reference_quote(symbol: str, price: Decimal, at: datetime) -> Quote:
    """The signal's reference price as a quote: bid = ask = last = ``price``."""
    # the order's validated symbol and price: not validated again
    return trusted(Quote, symbol=symbol, bid=price, ask=price, last=price, at=at)

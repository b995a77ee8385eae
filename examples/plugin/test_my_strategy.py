"""What a team testing its own strategy writes: nothing but tests.

at-stream's pytest plugin (installed with at-stream, entry point ``pytest11``) gives the
``at_stream`` fixture: a real broker and a running worker with its own topics. Run with
``pytest`` in your project; the broker and worker are chosen as README.md says
("Testing your own code against at-stream").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from at_stream.testing import Signer


def my_strategy(price: Decimal) -> dict[str, Any] | None:
    """A toy strategy under test: buy 5 below 100, sell 5 above 200, else nothing."""
    if price < 100:
        return {"symbol": "AAPL", "side": "buy", "quantity": "5", "price": str(price)}
    if price > 200:
        return {"symbol": "AAPL", "side": "sell", "quantity": "5", "price": str(price)}
    return None


def test_my_strategy_signal_is_filled(at_stream: Any) -> None:
    signal = my_strategy(Decimal("99.5"))
    assert signal is not None
    answer = at_stream.post_signal({**signal, "account": "team-a", "strategy": "toy"})
    fill = at_stream.wait_for("fills", signal_id=answer["signal_id"], timeout=60)
    assert fill["side"] == "buy"
    assert Decimal(fill["quantity"]) == 5 and Decimal(fill["price"]) == Decimal("99.5")
    order = at_stream.wait_for("orders", signal_id=answer["signal_id"])
    assert fill["order_id"] == order["order_id"]


def test_every_signing_scheme_and_a_forgery(at_stream: Any) -> None:
    signal = my_strategy(Decimal("250"))
    assert signal is not None
    for scheme in ("legacy", "standard-webhooks", "tradingview"):
        body = {**signal, "account": f"team-{scheme}", "strategy": "toy"}
        answer = at_stream.post_signal(body, scheme=scheme)
        fill = at_stream.wait_for("fills", signal_id=answer["signal_id"], timeout=60)
        assert fill["side"] == "sell" and fill["account"] == f"team-{scheme}"
    forger = Signer("default", "legacy", "not-the-secret")
    problem = at_stream.post_signal(
        {**signal, "account": "x", "strategy": "toy"}, signer=forger, expect=401
    )
    assert problem["type"].endswith("/unauthorized")

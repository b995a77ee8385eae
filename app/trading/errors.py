"""Errors of the trading domain; all derive from :class:`app.errors.AtStreamError`."""

from __future__ import annotations

from typing import Any

from app.errors import AtStreamError, ConfigError


class TradingError(AtStreamError):
    """Root of the trading domain's errors."""


class InvalidOrder(TradingError):
    """An order that cannot be executed as given: which field, why, and its value."""

    def __init__(self, order_id: str | None, field: str, reason: str, value: Any = None) -> None:
        self.order_id = order_id
        self.field = field
        self.reason = reason
        self.value = value
        who = f"order {order_id}" if order_id else "order"
        super().__init__(f"{who}: {field}: {reason}")


class InvalidIntent(TradingError):
    """A signal's intent that does not say what to trade (e.g. a target without a value)."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"intent: {field}: {reason}")


class InvalidQuote(TradingError):
    """A quote whose prices or sizes contradict each other (e.g. bid above ask)."""

    def __init__(self, symbol: str, reason: str) -> None:
        self.symbol = symbol
        self.reason = reason
        super().__init__(f"quote {symbol}: {reason}")


class OrderClosed(TradingError):
    """An action on an order that is already terminal (filled, rejected, cancelled, expired)."""

    def __init__(self, order_id: str, status: str, action: str) -> None:
        self.order_id = order_id
        self.status = status
        self.action = action
        super().__init__(f"order {order_id}: cannot {action} an order that is {status}")


class TradingConfigError(ConfigError):
    """A trading configuration file (simulator, risk, routes) is missing or malformed."""

    def __init__(self, path: str, reason: str, location: str | None = None) -> None:
        self.path = path
        self.location = location
        where = f"{path}: {location}" if location else path
        super().__init__(where, reason)

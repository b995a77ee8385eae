"""The simulator's configuration: per venue, per symbol, from one TOML file.

TOML because the project already reads its providers file with :mod:`tomllib`; the file
is validated with pydantic and every error names the file and the field. Layout
(``examples/trading/simulator.toml`` is a complete, commented example)::

    [venues.sim]
    seed = 42                         # seeds every probabilistic model of this venue
    reject_unknown_symbols = true     # false: symbols not listed get the defaults

    [venues.sim.defaults]             # every listed symbol starts from these
    tick_size = "0.01"
    latency_ms = 0
    prob_fill_on_limit = "1"
    slippage = { fixed_bps = "0", prob_slippage = "0" }
    partial = { share_of_quote_size = "1", max_per_step = "1000" }   # both optional
    fees = { per_share = "0.005", minimum = "1", maker_bps = "0", taker_bps = "0" }
    trading_hours = { timezone = "America/New_York", open = "09:30", close = "16:00" }

    [venues.sim.symbols.AAPL]         # overrides of the defaults, field by field
    fees = { per_share = "0.0035" }

A symbol table is merged into the defaults one level deep (``fees = { per_share = ... }``
keeps the default ``minimum``). Probabilities and shares are decimals in [0, 1].
"""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from app.decimals import NonNegative, Positive
from app.trading.errors import TradingConfigError

Probability = Annotated[Decimal, Field(ge=0, le=1)]
Share = Annotated[Decimal, Field(gt=0, le=1)]


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Slippage(_Config):
    """Adverse price moves on taker fills: ``fixed_bps`` always, then one more tick with
    probability ``prob_slippage`` (NautilusTrader's ``prob_slippage``)."""

    fixed_bps: NonNegative = Decimal(0)
    prob_slippage: Probability = Decimal(0)


class Partial(_Config):
    """How much of an order one step may fill: at most ``share_of_quote_size`` of the size
    at the touch, and at most ``max_per_step``; unset means no cap."""

    share_of_quote_size: Share | None = None
    max_per_step: Positive | None = None


class Fees(_Config):
    """Commission: ``per_share`` x the order's filled quantity, at least ``minimum`` per
    order once it has a fill; plus ``maker_bps``/``taker_bps`` of each fill's notional.
    No rebates: every rate is 0 or more, so a commission is never negative. Rounded up
    to ``places`` decimals."""

    per_share: NonNegative = Decimal(0)
    minimum: NonNegative = Decimal(0)
    maker_bps: NonNegative = Decimal(0)
    taker_bps: NonNegative = Decimal(0)
    places: Annotated[int, Field(ge=0, le=12)] = 4


class TradingHours(_Config):
    """One session a day on ``days`` (0 = Monday), ``open`` to ``close`` local time in
    ``timezone``; ``close`` must be after ``open`` (no overnight session)."""

    timezone: str = "UTC"
    open: time
    close: time
    days: tuple[Annotated[int, Field(ge=0, le=6)], ...] = (0, 1, 2, 3, 4)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _ordered(self) -> TradingHours:
        if self.close <= self.open:
            raise ValueError("close must be after open (overnight sessions are not supported)")
        return self

    def _bounds(self, day: date) -> tuple[datetime, datetime]:
        zone = ZoneInfo(self.timezone)
        start = datetime.combine(day, self.open, zone).astimezone(UTC)
        return start, datetime.combine(day, self.close, zone).astimezone(UTC)

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.timezone))
        if local.weekday() not in self.days:
            return False
        start, end = self._bounds(local.date())
        return start <= at < end

    def session_end(self, at: datetime) -> datetime:
        """The close of the session ``at`` is in, else of the next session."""
        day = at.astimezone(ZoneInfo(self.timezone)).date()
        for _ in range(8):
            if day.weekday() in self.days:
                _, end = self._bounds(day)
                if at < end:
                    return end
            day += timedelta(days=1)
        raise ValueError("trading hours have no trading day")  # unreachable: days non-empty


class SymbolConfig(_Config):
    """Every model's parameters for one symbol of one venue."""

    tick_size: Positive = Decimal("0.01")
    quantity_increment: Positive | None = Field(
        None, description="Partial fills are rounded down to this; none: 12 places."
    )
    latency_ms: Annotated[int, Field(ge=0)] = 0
    prob_fill_on_limit: Probability = Decimal(1)
    slippage: Slippage = Slippage()
    partial: Partial = Partial()
    fees: Fees = Fees()
    trading_hours: TradingHours | None = Field(None, description="None: always open.")

    def session_end(self, at: datetime) -> datetime:
        """When a ``day`` order submitted at ``at`` expires: its session's close, or the
        next midnight UTC for a symbol that always trades."""
        if self.trading_hours is not None:
            return self.trading_hours.session_end(at)
        day = at.astimezone(UTC).date() + timedelta(days=1)
        return datetime.combine(day, time(0), UTC)


def _merge(defaults: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(defaults)
    for key, value in override.items():
        base = merged.get(key)
        if isinstance(base, dict) and isinstance(value, dict):
            merged[key] = {**base, **value}
        else:
            merged[key] = value
    return merged


class VenueConfig(_Config):
    seed: int = 0
    reject_unknown_symbols: bool = True
    defaults: SymbolConfig = SymbolConfig()
    symbols: dict[str, SymbolConfig] = {}

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        defaults = data.get("defaults") or {}
        symbols = data.get("symbols") or {}
        if not isinstance(defaults, dict) or not isinstance(symbols, dict):
            return data
        merged = {
            name: _merge(defaults, table) if isinstance(table, dict) else table
            for name, table in symbols.items()
        }
        return {**data, "symbols": merged}

    def for_symbol(self, symbol: str) -> SymbolConfig | None:
        """The symbol's parameters; None if it is unknown and unknown symbols are refused."""
        found = self.symbols.get(symbol)
        if found is None and not self.reject_unknown_symbols:
            return self.defaults
        return found


class SimulatorConfig(_Config):
    venues: dict[str, VenueConfig]

    def venue(self, name: str) -> VenueConfig:
        try:
            return self.venues[name]
        except KeyError:
            known = ", ".join(sorted(self.venues)) or "none"
            raise TradingConfigError(
                "simulator config", f"no venue {name!r} (known: {known})"
            ) from None


def parse_simulator_config(text: str, source: str = "<string>") -> SimulatorConfig:
    """The configuration in TOML ``text``; :class:`TradingConfigError` naming ``source``."""
    try:
        return SimulatorConfig.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise TradingConfigError(source, f"is not TOML: {exc}") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise TradingConfigError(source, err["msg"], where) from None


def load_simulator_config(path: Path) -> SimulatorConfig:
    """The configuration in the TOML file at ``path`` (the one read, for the caller)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise TradingConfigError(str(path), "is missing") from None
    return parse_simulator_config(text, str(path))

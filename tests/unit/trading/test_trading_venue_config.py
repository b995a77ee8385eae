"""Unit tests of app.trading.venue_config: the simulator's configuration file."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from app.errors import ConfigError
from app.trading.errors import TradingConfigError
from app.trading.venue_config import (
    TradingHours,
    load_simulator_config,
    parse_simulator_config,
)
from tests.unit.trading.samples import D

EXAMPLE = Path(__file__).parents[3] / "examples" / "trading" / "simulator.toml"


def test_example_file_loads_and_merges_defaults() -> None:
    config = load_simulator_config(EXAMPLE)
    sim = config.venue("sim")
    msft = sim.for_symbol("MSFT")
    assert msft is not None
    assert msft.fees.per_share == D("0.0035") and msft.fees.minimum == D(1)
    assert msft.slippage.prob_slippage == D("0.2") and msft.latency_ms == 50
    assert sim.for_symbol("TSLA") is None  # unknown: rejected
    crypto = config.venue("crypto")
    assert crypto.for_symbol("BTC/USD") == crypto.defaults
    assert crypto.defaults.trading_hours is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("venues = 1 =", "is not TOML"),
        ("[venues.x]\nseed = 'a'", "venues.x.seed"),
        ("[venues.x.defaults]\ntick_size = 0.01", "decimal string"),
        ("[venues.x.defaults]\nprob_fill_on_limit = '1.5'", "less than or equal to 1"),
        ("[venues.x.defaults.fees]\nper_share = '-1'", "0 or more"),
        ("[venues.x.defaults]\nbogus = 1", "Extra inputs are not permitted"),
        (
            "[venues.x.defaults.trading_hours]\ntimezone = 'Mars/Base'\nopen = '09:30'\n"
            "close = '16:00'",
            "unknown time zone",
        ),
        (
            "[venues.x.defaults.trading_hours]\nopen = '16:00'\nclose = '09:30'",
            "close must be after open",
        ),
    ],
)
def test_bad_files_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(TradingConfigError) as info:
        parse_simulator_config(text, "sim.toml")
    assert isinstance(info.value, ConfigError)
    assert message in str(info.value) and "sim.toml" in str(info.value)


def test_missing_file_and_unknown_venue(tmp_path: Path) -> None:
    with pytest.raises(TradingConfigError, match="is missing"):
        load_simulator_config(tmp_path / "nope.toml")
    with pytest.raises(TradingConfigError, match=r"no venue 'b' \(known: a\)"):
        parse_simulator_config("[venues.a]").venue("b")


def test_trading_hours_follow_the_local_clock_across_dst() -> None:
    hours = TradingHours(timezone="America/New_York", open=time(9, 30), close=time(16))
    winter, summer = (
        datetime(2024, 3, 8, 14, 30, tzinfo=UTC),
        datetime(2024, 3, 11, 13, 30, tzinfo=UTC),
    )
    assert hours.is_open(winter) and hours.is_open(summer)  # 09:30 EST, 09:30 EDT
    assert not hours.is_open(datetime(2024, 3, 11, 13, 29, tzinfo=UTC))
    assert hours.session_end(winter) == datetime(2024, 3, 8, 21, 0, tzinfo=UTC)
    assert hours.session_end(summer) == datetime(2024, 3, 11, 20, 0, tzinfo=UTC)
    # after Friday's close the next close is Monday's
    assert hours.session_end(datetime(2024, 3, 8, 22, tzinfo=UTC)) == summer.replace(
        hour=20, minute=0
    )

"""The Alpaca settings: paper by default, keys as secrets, the adapter needs both."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.errors import ConfigError
from app.settings import Settings, load_settings
from app.venues.alpaca import AlpacaVenue

NAMES = ("ALPACA_API_KEY_ID", "ALPACA_API_SECRET_KEY", "ALPACA_BASE_URL")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.upper() in NAMES or key.upper().startswith("AT_STREAM_ALPACA_"):
            monkeypatch.delenv(key)


def test_paper_by_default_and_keys_are_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().alpaca_base_url == "https://paper-api.alpaca.markets"
    monkeypatch.setenv("ALPACA_API_KEY_ID", "PKABC")
    monkeypatch.setenv("ALPACA_API_SECRET_KEY", "s3cret-value")
    monkeypatch.setenv("ALPACA_BASE_URL", "http://127.0.0.1:9999/")
    settings = load_settings()
    assert "s3cret-value" not in repr(settings) and "PKABC" not in repr(settings)
    assert settings.alpaca_base_url == "http://127.0.0.1:9999"


@pytest.mark.parametrize("url", ["ftp://x", "paper-api.alpaca.markets", "https://h?x=1"])
def test_a_bad_base_url_names_the_variable(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("ALPACA_BASE_URL", url)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.variable == "ALPACA_BASE_URL"


async def test_the_adapter_needs_both_keys() -> None:
    with pytest.raises(ConfigError) as info:
        AlpacaVenue.from_settings(Settings(ALPACA_API_KEY_ID="PKABC"))
    assert info.value.variable == "ALPACA_API_SECRET_KEY"
    with pytest.raises(ConfigError) as info:
        AlpacaVenue.from_settings(Settings())
    assert info.value.variable == "ALPACA_API_KEY_ID"
    venue = AlpacaVenue.from_settings(
        Settings(ALPACA_API_KEY_ID="PKABC", ALPACA_API_SECRET_KEY="x" * 12)
    )
    try:
        assert venue.http.base_url == "https://paper-api.alpaca.markets"
    finally:
        await venue.close()

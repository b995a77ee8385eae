"""The providers file and the API_KEY_HMAC_SECRET shortcut."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.errors import ConfigError
from app.providers import DEFAULT_PROVIDER, Scheme, UnknownFields, load_providers

GOOD = """
[[providers]]
id = "engine"
scheme = "standard-webhooks"
secrets = [
  { value = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" },
  { value = "whsec_ZmVkY2JhOTg3NjU0MzIx", expires_at = 2020-01-01T00:00:00Z },
]
rate_limit = { per_second = 5, burst = 10 }
unknown_fields = "lenient"

[[providers]]
id = "tv"
scheme = "tradingview"
secrets = [{ value = "tv-shared-secret" }]
allow_ips = ["52.89.214.238/32", "10.0.0.0/8"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "providers.toml"
    path.write_text(text)
    return path


def test_file_and_shortcut(tmp_path: Path) -> None:
    found = load_providers(write(tmp_path, GOOD), "shortcut-secret")
    assert set(found) == {DEFAULT_PROVIDER, "engine", "tv"}
    assert found[DEFAULT_PROVIDER].scheme is Scheme.LEGACY
    engine = found["engine"]
    assert engine.unknown_fields is UnknownFields.LENIENT
    assert engine.rate_limit is not None and engine.rate_limit.burst == 10
    assert len(engine.active_secrets()) == 1  # the second one expired in 2020
    past = datetime(2019, 1, 1, tzinfo=UTC)
    assert len(engine.active_secrets(past)) == 2
    assert found["tv"].unknown_fields is UnknownFields.STRICT  # the default


def test_ip_allowlist(tmp_path: Path) -> None:
    tv = load_providers(write(tmp_path, GOOD), None)["tv"]
    assert tv.ip_allowed("52.89.214.238")
    assert tv.ip_allowed("10.1.2.3")
    assert not tv.ip_allowed("52.89.214.239")
    assert not tv.ip_allowed(None)
    assert not tv.ip_allowed("not-an-ip")
    engine = load_providers(write(tmp_path, GOOD), None)["engine"]
    assert engine.ip_allowed(None)  # no allowlist: anyone who can sign


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            "[[providers]]\nid='x'\nscheme='nope'\nsecrets=[{value='12345678'}]",
            "providers.0.scheme",
        ),
        ("[[providers]]\nid='x'\nscheme='legacy'\nsecrets=[]", "providers.0.secrets"),
        ("[[providers]]\nid='x'\nscheme='legacy'\nsecrets=[{value='short'}]", "at least 8"),
        (
            "[[providers]]\nid='X Y'\nscheme='legacy'\nsecrets=[{value='12345678'}]",
            "providers.0.id",
        ),
        (
            "[[providers]]\nid='x'\nscheme='legacy'\nsecrets=[{value='12345678'}]\nallow_ips=['300.1.1.1/8']",
            "allow_ips",
        ),
        ("providers = [", "is not TOML"),
        (
            "[[providers]]\nid='x'\nscheme='legacy'\nsecrets=[{value='12345678'}]\n"
            "[[providers]]\nid='x'\nscheme='legacy'\nsecrets=[{value='12345678'}]",
            "defined twice",
        ),
    ],
)
def test_bad_files_fail_in_one_line(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_providers(write(tmp_path, text), None)
    message = str(err.value)
    assert "AT_STREAM_PROVIDERS_FILE" in message and needle in message
    assert "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing file"):
        load_providers(tmp_path / "nope.toml", None)


def test_default_provider_needs_a_long_enough_secret() -> None:
    with pytest.raises(ValueError, match="at least 8"):
        load_providers(None, "short")
    assert load_providers(None, None) == {}

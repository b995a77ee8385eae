"""Unit tests of app.settings: environment variables, validation and ConfigError messages.

Every test runs in an empty temporary directory (so no ``.env`` file is read) with the
variables Settings reads removed from the environment.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.errors import ConfigError
from app.settings import Settings, env_name, load_settings

SECRET = "a-long-enough-shared-secret"
OLD_NAMES = ("API_KEY_HMAC_SECRET", "NATS_URL", "NATS_STREAM", "NATS_DURABLE")
ALIASES = {
    "hmac_secret": "API_KEY_HMAC_SECRET",
    "nats_url": "NATS_URL",
    "nats_stream": "NATS_STREAM",
    "nats_durable": "NATS_DURABLE",
    "kafka_bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS",
    "alpaca_api_key_id": "ALPACA_API_KEY_ID",
    "alpaca_api_secret_key": "ALPACA_API_SECRET_KEY",
    "alpaca_base_url": "ALPACA_BASE_URL",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No inherited variables and no .env file: only what a test sets is read."""
    monkeypatch.chdir(tmp_path)
    names = {*ALIASES.values(), *(env_name(field) for field in Settings.model_fields)}
    for key in list(os.environ):
        if key.upper() in names or key.upper().startswith("AT_STREAM_"):
            monkeypatch.delenv(key)


def _config_error() -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_settings()
    return info.value


def _assert_one_line_naming(exc: ConfigError, variable: str) -> None:
    message = str(exc)
    assert exc.variable == variable
    assert message.startswith(f"configuration error: {variable} ")
    assert "\n" not in message
    assert "\r" not in message
    assert exc.reason
    assert message == f"configuration error: {variable} {exc.reason}"


# -- reading ---------------------------------------------------------------------------------


def test_defaults_without_any_variable() -> None:
    settings = load_settings()
    assert settings.hmac_secret is None
    assert settings.nats_url == "nats://127.0.0.1:4222"
    assert settings.nats_stream == "trading-events"
    assert settings.nats_durable == "at-stream-bridge"
    assert settings.signals_topic == "signals"
    assert settings.orders_topic == "orders"
    assert settings.fills_topic == "fills"
    assert settings.dead_letter_topic == "dead-letters"


def test_old_names_are_read_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEY_HMAC_SECRET", SECRET)
    monkeypatch.setenv("NATS_URL", "tls://nats.internal:4443")
    monkeypatch.setenv("NATS_STREAM", "legacy-stream")
    monkeypatch.setenv("NATS_DURABLE", "legacy-durable")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    settings = load_settings()
    assert settings.secret == SECRET
    assert settings.nats_url == "tls://nats.internal:4443"
    assert settings.nats_stream == "legacy-stream"
    assert settings.nats_durable == "legacy-durable"
    assert settings.kafka_bootstrap_servers == "kafka-1:9092,kafka-2:9092"


@pytest.mark.parametrize(
    "url",
    [
        "nats://127.0.0.1:4222",
        "nats://nats:4222",
        "nats://user:pass@nats.example.com:4222",
        "tls://nats.example.com:4443",
        "ws://localhost:8080",
        "wss://nats.example.com",
        "nats://[::1]:4222",
    ],
)
def test_valid_nats_urls(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("NATS_URL", url)
    assert load_settings().nats_url == url


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("127.0.0.1:19092", "127.0.0.1:19092"),
        ("redpanda:9092", "redpanda:9092"),
        ("a:1, b:2", "a:1,b:2"),
        (" a:1 ,b:2 ", "a:1,b:2"),
        ("a:1,,b:2", "a:1,b:2"),
        ("kafka://broker:9092", "broker:9092"),
        ("my_host-1.example.com:9093", "my_host-1.example.com:9093"),
        ("[::1]:9092", "[::1]:9092"),
        ("broker:1", "broker:1"),
        ("broker:65535", "broker:65535"),
    ],
)
def test_valid_bootstrap_servers(
    monkeypatch: pytest.MonkeyPatch, raw: str, normalized: str
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", raw)
    assert load_settings().kafka_bootstrap_servers == normalized


@pytest.mark.parametrize(
    ("variable", "raw", "field", "expected"),
    [
        ("AT_STREAM_WEB_PORT", "9000", "web_port", 9000),
        ("AT_STREAM_WEB_HOST", "0.0.0.0", "web_host", "0.0.0.0"),
        ("AT_STREAM_APP_ID", "at-stream-test", "app_id", "at-stream-test"),
        ("AT_STREAM_SIGNALS_TOPIC", "signals.v2", "signals_topic", "signals.v2"),
        ("AT_STREAM_ORDERS_TOPIC", "orders_v2", "orders_topic", "orders_v2"),
        ("AT_STREAM_FILLS_TOPIC", "fills-v2", "fills_topic", "fills-v2"),
        ("AT_STREAM_DEAD_LETTER_TOPIC", "dlq", "dead_letter_topic", "dlq"),
        ("AT_STREAM_TOPIC_PARTITIONS", "12", "topic_partitions", 12),
        ("AT_STREAM_TOPIC_REPLICATION_FACTOR", "3", "topic_replication_factor", 3),
        ("AT_STREAM_DATA_DIR", "/srv/worker", "data_dir", Path("/srv/worker")),
        ("AT_STREAM_LOG_LEVEL", "DEBUG", "log_level", "DEBUG"),
        ("AT_STREAM_SIGNATURE_TOLERANCE_SECONDS", "60", "signature_tolerance_seconds", 60),
        ("AT_STREAM_MAX_BODY_BYTES", "2048", "max_body_bytes", 2048),
        ("AT_STREAM_BROKER_DIR", "/srv/kafka", "broker_dir", Path("/srv/kafka")),
        ("AT_STREAM_BROKER_HEAP", "1g", "broker_heap", "1g"),
    ],
)
def test_prefixed_variables_are_read(
    monkeypatch: pytest.MonkeyPatch, variable: str, raw: str, field: str, expected: object
) -> None:
    assert env_name(field) == variable
    monkeypatch.setenv(variable, raw)
    assert getattr(load_settings(), field) == expected


def test_dotenv_in_the_working_directory_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    Path(".env").write_text("NATS_STREAM=from-dotenv\nAT_STREAM_WEB_PORT=9100\n")
    settings = load_settings()
    assert settings.nats_stream == "from-dotenv"
    assert settings.web_port == 9100
    monkeypatch.setenv("NATS_STREAM", "from-environment")
    assert load_settings().nats_stream == "from-environment"


def test_each_load_reads_the_environment_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_STREAM", "one")
    assert load_settings().nats_stream == "one"
    monkeypatch.setenv("NATS_STREAM", "two")
    assert load_settings().nats_stream == "two"


# -- malformed values --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "",
        "nats",
        "127.0.0.1:4222",
        "http://nats:4222",
        "nats://",
        "nats://:4222",
        "nats://nats:port",
        "nats://nats:99999",
        "nats://nats:-1",
        "nats://nats:4222\nNATS_URL=x",
    ],
)
def test_malformed_nats_url(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("NATS_URL", url)
    _assert_one_line_naming(_config_error(), "NATS_URL")


@pytest.mark.parametrize(
    "servers",
    [
        "",
        ",",
        " , ",
        "broker",
        "broker:",
        ":9092",
        "broker:port",
        "broker:123456",
        "broker 1:9092",
        "http://broker:9092",
        "a:1;b:2",
        "a:1,b",
        "kafka://a:1,kafka://b:2",
        "a:1\nb:2",
    ],
)
def test_malformed_bootstrap_servers(monkeypatch: pytest.MonkeyPatch, servers: str) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", servers)
    _assert_one_line_naming(_config_error(), "KAFKA_BOOTSTRAP_SERVERS")


@pytest.mark.parametrize(
    "servers", ["broker:0", "broker:00000", "broker:65536", "broker:99999", "a:9092,b:70000"]
)
def test_out_of_range_bootstrap_port(monkeypatch: pytest.MonkeyPatch, servers: str) -> None:
    """Regression: any 1-5 digit port used to pass."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", servers)
    _assert_one_line_naming(_config_error(), "KAFKA_BOOTSTRAP_SERVERS")


@pytest.mark.parametrize("secret", ["", "x", "1234567"])
def test_short_secret(monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    monkeypatch.setenv("API_KEY_HMAC_SECRET", secret)
    exc = _config_error()
    _assert_one_line_naming(exc, "API_KEY_HMAC_SECRET")
    assert "8" in exc.reason
    if secret:
        assert secret not in str(exc)


def test_eight_character_secret_is_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEY_HMAC_SECRET", "12345678")
    assert load_settings().secret == "12345678"


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("AT_STREAM_WEB_PORT", "0"),
        ("AT_STREAM_WEB_PORT", "65536"),
        ("AT_STREAM_WEB_PORT", "http"),
        ("AT_STREAM_TOPIC_PARTITIONS", "0"),
        ("AT_STREAM_TOPIC_REPLICATION_FACTOR", "17"),
        ("AT_STREAM_SIGNALS_TOPIC", "bad topic"),
        ("AT_STREAM_ORDERS_TOPIC", ""),
        ("AT_STREAM_APP_ID", "a/b"),
        ("AT_STREAM_LOG_LEVEL", "verbose"),
        ("AT_STREAM_SIGNATURE_TOLERANCE_SECONDS", "0"),
        ("AT_STREAM_SIGNATURE_TOLERANCE_SECONDS", "3601"),
        ("AT_STREAM_MAX_BODY_BYTES", "1023"),
        ("AT_STREAM_BROKER_HEAP", "512"),
        ("AT_STREAM_BROKER_HEAP", "lots"),
    ],
)
def test_malformed_prefixed_variable_is_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, raw: str
) -> None:
    monkeypatch.setenv(variable, raw)
    _assert_one_line_naming(_config_error(), variable)


NUMERIC_FIELDS = sorted(
    name for name, info in Settings.model_fields.items() if info.annotation in (int, float)
)


@pytest.mark.parametrize("field", NUMERIC_FIELDS)
def test_every_numeric_field_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, field: str
) -> None:
    monkeypatch.setenv(env_name(field), "not-a-number")
    _assert_one_line_naming(_config_error(), env_name(field))


def test_numeric_fields_exist() -> None:
    assert "web_port" in NUMERIC_FIELDS
    assert "signature_tolerance_seconds" in NUMERIC_FIELDS


def test_first_error_is_reported_when_several_are_bad(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_URL", "http://x")
    monkeypatch.setenv("AT_STREAM_WEB_PORT", "0")
    exc = _config_error()
    assert exc.variable in {"NATS_URL", "AT_STREAM_WEB_PORT"}
    _assert_one_line_naming(exc, exc.variable)


# -- the secret --------------------------------------------------------------------------------


def test_secret_unset_raises_config_error() -> None:
    settings = load_settings()
    with pytest.raises(ConfigError) as info:
        _ = settings.secret
    _assert_one_line_naming(info.value, "API_KEY_HMAC_SECRET")
    assert info.value.reason == "is not set"


def test_secret_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEY_HMAC_SECRET", SECRET)
    settings = load_settings()
    assert settings.secret == SECRET
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    assert SECRET not in settings.model_dump_json()
    assert SECRET not in repr(settings.model_dump())
    assert SECRET not in repr(settings.hmac_secret)


# -- env_name -------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "variable"), sorted(ALIASES.items()))
def test_env_name_of_kept_names(field: str, variable: str) -> None:
    assert env_name(field) == variable


@pytest.mark.parametrize(
    ("field", "variable"),
    [
        ("web_port", "AT_STREAM_WEB_PORT"),
        ("app_id", "AT_STREAM_APP_ID"),
        ("signals_topic", "AT_STREAM_SIGNALS_TOPIC"),
        ("signature_tolerance_seconds", "AT_STREAM_SIGNATURE_TOLERANCE_SECONDS"),
    ],
)
def test_env_name_of_prefixed_fields(field: str, variable: str) -> None:
    assert env_name(field) == variable


def test_every_field_has_an_upper_case_variable() -> None:
    for field in Settings.model_fields:
        name = env_name(field)
        assert name.isupper(), name
        assert name in ALIASES.values() or name == f"AT_STREAM_{field.upper()}"


def test_env_names_are_unique() -> None:
    names = [env_name(field) for field in Settings.model_fields]
    assert len(set(names)) == len(names)


def test_env_name_of_an_unknown_field() -> None:
    with pytest.raises(KeyError):
        env_name("no_such_field")


def test_old_names_are_all_fields() -> None:
    fields_by_name = {env_name(field): field for field in Settings.model_fields}
    for name in OLD_NAMES:
        assert name in fields_by_name


def test_every_setting_is_documented_in_the_readme() -> None:
    from app.settings import Settings, env_name

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [env_name(f) for f in Settings.model_fields if f"`{env_name(f)}`" not in readme]
    assert not missing, missing


def test_the_dedupe_ttl_must_cover_the_signature_tolerance() -> None:
    with pytest.raises(ValidationError, match="must be at least"):
        Settings(idempotency_ttl_seconds=120, signature_tolerance_seconds=300)
    ok = Settings(idempotency_ttl_seconds=120, signature_tolerance_seconds=60)
    assert ok.idempotency_ttl_seconds == 120

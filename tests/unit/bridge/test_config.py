"""The bridge's configuration: routes, the stream it creates, the durable consumer."""

from __future__ import annotations

import pytest

from app.bridge.config import bridge_config, merged_subjects
from app.bridge.server import server_binary
from app.errors import ConfigError
from app.settings import Settings


def test_defaults() -> None:
    config = bridge_config(Settings())
    assert {r.topic: r.subject for r in config.routes.values()} == {
        "signals": "trading.signals", "orders": "trading.orders", "fills": "trading.fills",
        "dead-letters": "trading.dead-letters",
    }  # fmt: skip
    stream = config.stream_config
    assert stream.name == "trading-events"
    assert stream.subjects == sorted(
        [
            "trading.signals",
            "trading.orders",
            "trading.fills",
            "trading.dead-letters",
            "trading.signals.in",
        ]
    )
    assert stream.storage == "file" and stream.retention == "limits"
    assert stream.duplicate_window == 900 and stream.max_age == 7 * 86400
    consumer = config.consumer_config
    assert consumer.durable_name == "at-stream-bridge"
    assert consumer.ack_policy == "explicit" and consumer.max_deliver == -1
    assert consumer.ack_wait == 30 and consumer.max_ack_pending == 1000
    assert consumer.filter_subject == "trading.signals.in"


def test_old_names_and_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_STREAM", "legacy")
    monkeypatch.setenv("NATS_DURABLE", "exec-sim-consumer")
    monkeypatch.setenv("AT_STREAM_BRIDGE_FILLS_SUBJECT", "trading.fills.{account}.{symbol}")
    config = bridge_config(Settings())
    assert config.stream == "legacy" and config.durable == "exec-sim-consumer"
    assert "trading.fills.*.*" in (config.stream_config.subjects or [])


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AT_STREAM_BRIDGE_FILLS_SUBJECT", "trading.fills.{nope}"),
        ("AT_STREAM_BRIDGE_INBOUND_SUBJECT", "trading.in.{account}"),
        ("AT_STREAM_BRIDGE_ORDERS_SUBJECT", "trading.{account"),
    ],
)
def test_bad_templates_name_their_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        bridge_config(Settings())
    assert info.value.variable == variable


def test_a_bad_subject_is_refused_by_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AT_STREAM_BRIDGE_FILLS_SUBJECT", "trading fills")
    with pytest.raises(ValueError, match="bridge_fills_subject"):
        Settings()


def test_an_existing_streams_subjects_are_kept() -> None:
    assert merged_subjects(["legacy.>", "trading.fills"], ["trading.fills", "trading.orders"]) == [
        "legacy.>", "trading.fills", "trading.orders"
    ]  # fmt: skip
    assert merged_subjects(None, ["a"]) == ["a"]


def test_the_wheels_server_binary_is_found() -> None:
    path = server_binary()
    assert path.name == "nats-server" and path.exists()


def test_the_logged_nats_address_has_no_credentials() -> None:
    from app.bridge.link import NatsLink

    link = NatsLink("nats://user:s3cret@nats.internal:4333", bridge_config(Settings()), 10, "t")
    assert link.shown == "nats://nats.internal:4333"

"""JetStream message -> Kafka record: validated like a webhook signal, ids from the message."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pydantic import SecretStr

from app.bridge.inbound_map import Inbound, delivery_key, from_kafka, to_kafka
from app.ids import derive
from app.models import DeadLetter, Signal
from app.providers import Provider, ProviderSecret, Scheme, UnknownFields

STORED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
BODY = {"symbol": "AAPL", "side": "buy", "quantity": "10", "order_type": "market",
        "price": "187.25", "account": "paper-1", "strategy": "demo"}  # fmt: skip


def provider(policy: UnknownFields = UnknownFields.LENIENT) -> Provider:
    secret = ProviderSecret(value=SecretStr("a-secret-of-the-test"))
    return Provider(id="default", scheme=Scheme.LEGACY, secrets=(secret,), unknown_fields=policy)


def msg(body: object, headers: dict[str, str] | None = None, seq: int = 7) -> Inbound:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Inbound("trading-events", "trading.signals.in", seq, STORED, data, headers or {})


def test_a_valid_legacy_signal_with_a_msg_id() -> None:
    record = to_kafka(msg(BODY, {"Nats-Msg-Id": "abc", "X-Correlation-ID": "corr-0001"}),
                      provider())  # fmt: skip
    assert record.signal is not None and record.key == b"paper-1|AAPL"
    signal = Signal.model_validate_json(record.value)
    assert signal.signal_id == derive("signal", "nats:msgid:abc")
    assert signal.received_at == STORED and signal.provider == "default"
    headers = dict(record.headers)
    assert headers["x-correlation-id"] == b"corr-0001"
    assert headers["at-stream-origin"] == b"nats"
    assert headers["at-stream-nats-sequence"] == b"7"
    assert headers["at-stream-nats-msg-id"] == b"abc"


def test_a_redelivery_is_the_same_record() -> None:
    first = to_kafka(msg(BODY, seq=9), provider())
    again = to_kafka(msg(BODY, seq=9), provider())
    assert first.value == again.value
    assert delivery_key(msg(BODY, seq=9)) == "nats:seq:trading-events:9"
    assert dict(first.headers)["x-correlation-id"] == b"nats:trading-events:9"


def test_unknown_fields_follow_the_providers_policy() -> None:
    body = {**BODY, "comment": "hi"}
    lenient = to_kafka(msg(body), provider())
    assert lenient.signal is not None and lenient.signal.unknown_fields == {"comment": "hi"}
    strict = to_kafka(msg(body), provider(UnknownFields.STRICT))
    assert strict.signal is None and strict.reason is not None
    assert "/comment" in strict.reason


def test_an_invalid_signal_becomes_a_dead_letter_with_its_reason_and_position() -> None:
    record = to_kafka(msg({**BODY, "quantity": "-1"}, {"Nats-Msg-Id": "bad-1"}, seq=12),
                      provider())  # fmt: skip
    assert record.signal is None and record.key is None
    dead = DeadLetter.model_validate_json(record.value)
    assert dead.source_topic == "nats:trading-events:trading.signals.in"
    assert dead.partition == -1 and dead.offset == 12 and dead.key == "bad-1"
    assert dead.reason.startswith("invalid-signal: /quantity: ")
    assert dead.reason.endswith("(NATS stream trading-events sequence 12)")
    assert "at-stream-origin" not in dict(record.headers)


def test_bad_json_is_a_dead_letter_too() -> None:
    for body, slug in ((b"{nope", "invalid-json"), (b"[1]", "invalid-json"),
                       (b'{"a":1,"a":2}', "invalid-json")):  # fmt: skip
        record = to_kafka(msg(body), provider())
        assert record.reason is not None and record.reason.startswith(slug), record.reason


def test_our_own_publishes_are_recognised() -> None:
    assert from_kafka(msg(BODY, {"At-Stream-Origin": "kafka"}))
    assert not from_kafka(msg(BODY))

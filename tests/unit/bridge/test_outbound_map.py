"""Kafka record -> JetStream message: subjects, headers, Nats-Msg-Id, the loop guard."""

from __future__ import annotations

import base64
import json

from hypothesis import given
from hypothesis import strategies as st

from app.bridge.outbound_map import (
    KAFKA_HEADERS,
    Route,
    carry_headers,
    event_id,
    kafka_headers_of,
    subject_for,
    to_nats,
    wildcard,
)
from app.ids import derive

FILLS = Route("fills", "fill", "trading.fills")
FILL = {"v": 1, "fill_id": "f" * 36, "account": "paper-1", "symbol": "BRK.B"}


def test_a_fill_becomes_its_message() -> None:
    headers = [("x-correlation-id", b"cid-12345678"), ("x-cause-id", b"o" * 36)]
    out = to_nats(FILLS, 3, 42, json.dumps(FILL).encode(), headers)
    assert out is not None
    assert out.subject == "trading.fills" and out.msg_id == "f" * 36
    assert out.payload == json.dumps(FILL).encode()
    assert out.headers == {
        "x-correlation-id": "cid-12345678",
        "x-cause-id": "o" * 36,
        "X-Correlation-ID": "cid-12345678",
        "Nats-Msg-Id": "f" * 36,
        "At-Stream-Event-Type": "fill",
        "At-Stream-Schema-Version": "1",
        "At-Stream-Origin": "kafka",
        "At-Stream-Kafka-Topic": "fills",
        "At-Stream-Kafka-Partition": "3",
        "At-Stream-Kafka-Offset": "42",
    }


def test_the_same_record_twice_has_one_msg_id() -> None:
    value = json.dumps(FILL).encode()
    a = to_nats(FILLS, 0, 1, value, [])
    b = to_nats(FILLS, 2, 99, value, [])  # written again elsewhere: same event
    assert a is not None and b is not None and a.msg_id == b.msg_id


def test_subject_tokens_from_the_value_with_reserved_characters_replaced() -> None:
    assert subject_for("trading.fills.{account}.{symbol}", FILL) == "trading.fills.paper-1.BRK_B"
    assert subject_for("t.{symbol}", {"symbol": "A *>b"}) == "t.A___b"
    assert subject_for("t.{account}", None) == "t._"
    assert wildcard("trading.fills.{account}.{symbol}") == "trading.fills.*.*"


def test_ids_of_dead_letters_and_undecodable_records_derive_from_their_cause() -> None:
    route = Route("dead-letters", "dead-letter", "trading.dead-letters")
    dead = {"source_topic": "orders", "partition": 1, "offset": 7, "reason": "bad"}
    assert event_id(route, dead, 0, 0) == derive("dead-letter", "orders", "1", "7", "bad")
    assert event_id(FILLS, None, 2, 5) == derive("kafka-record", "fills", "2", "5")
    out = to_nats(FILLS, 2, 5, b"\xff not json", [])
    assert out is not None and out.headers["At-Stream-Schema-Version"] == "unknown"
    assert out.msg_id == derive("kafka-record", "fills", "2", "5")


def test_a_record_that_came_from_nats_is_not_published_back() -> None:
    assert to_nats(FILLS, 0, 0, b"{}", [("at-stream-origin", b"nats")]) is None
    assert to_nats(FILLS, 0, 0, b"{}", [("at-stream-origin", b"web")]) is not None


def test_repeated_binary_and_reserved_headers_travel_losslessly() -> None:
    kafka = [("trace", b"a"), ("trace", b"b"), ("blob", b"\x00\xff"),
             ("Nats-Expected-Stream", b"x"), ("ok", b"fine")]  # fmt: skip
    out = carry_headers(kafka)
    assert out["ok"] == "fine"
    assert "trace" not in out and "blob" not in out and "Nats-Expected-Stream" not in out
    packed = json.loads(out[KAFKA_HEADERS])
    assert packed[0] == ["trace", base64.b64encode(b"a").decode()]
    assert kafka_headers_of(out) == kafka


def test_plain_headers_need_no_packing() -> None:
    out = carry_headers([("a", b"1"), ("b", b"two words")])
    assert out == {"a": "1", "b": "two words"}
    assert kafka_headers_of(out) == [("a", b"1"), ("b", b"two words")]


@given(st.lists(st.tuples(st.text(min_size=1, max_size=8), st.binary(max_size=16)), max_size=6))
def test_every_header_list_round_trips(kafka: list[tuple[str, bytes]]) -> None:
    out = carry_headers(kafka)
    if KAFKA_HEADERS in out:
        assert kafka_headers_of(out) == kafka
    else:
        assert sorted(kafka_headers_of(out)) == sorted(kafka)


def test_execution_log_records_that_are_not_orders_are_not_published() -> None:
    """Quote copies, kill-switch changes, clock ticks and venue events share ``orders``
    with the orders; the old event spec has only the orders."""
    value = json.dumps(FILL).encode()
    for kind in (b"quote", b"trading_state", b"clock", b"venue_event"):
        assert to_nats(FILLS, 0, 1, value, [("at-kind", kind)]) is None
    assert to_nats(FILLS, 0, 1, value, [("at-kind", b"order")]) is not None

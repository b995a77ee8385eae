"""Kafka record -> JetStream message: subject, headers, ``Nats-Msg-Id``. Pure functions.

A subject is a template per topic (``trading.fills`` or ``trading.fills.{account}.{symbol}``);
tokens come from the record's JSON value, with characters NATS reserves in a token (``.``,
``*``, ``>``, whitespace) replaced by ``_``. Every Kafka header is carried over: under its
own name when NATS can carry it as is (a header token name not starting with ``Nats-`` nor
``At-Stream-``, a printable UTF-8 value, the name used once), and always losslessly (every
value of every header, in order) in ``At-Stream-Kafka-Headers`` when one of them cannot be.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from app.ids import derive
from app.trading.commands import KIND_HEADER

MSG_ID = "Nats-Msg-Id"
EVENT_TYPE = "At-Stream-Event-Type"
SCHEMA_VERSION = "At-Stream-Schema-Version"
ORIGIN = "At-Stream-Origin"
KAFKA_TOPIC = "At-Stream-Kafka-Topic"
KAFKA_PARTITION = "At-Stream-Kafka-Partition"
KAFKA_OFFSET = "At-Stream-Kafka-Offset"
KAFKA_HEADERS = "At-Stream-Kafka-Headers"
CORRELATION = "X-Correlation-ID"

ORIGIN_KAFKA = "kafka"
ORIGIN_NATS = "nats"
ORIGIN_KAFKA_HEADER = "at-stream-origin"
"""The Kafka header that marks a record the bridge wrote from a NATS message (loop guard)."""

ID_FIELDS = {"signal": "signal_id", "order": "order_id", "fill": "fill_id"}
_TOKEN = re.compile(r"\{([a-z_]+)\}")
_RESERVED = re.compile(r"[.*>\s]")
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-^_`|~0-9A-Za-z]+$")  # nats-py's header name rule
_OURS = ("nats-", "at-stream-")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Route:
    """Where one Kafka topic's records go: its event type and its subject template."""

    topic: str
    event_type: str  # signal | order | fill | dead-letter
    subject: str


@dataclass(frozen=True, slots=True)
class Outbound:
    """One JetStream message to publish; ``None`` from :func:`to_nats` means skip it."""

    subject: str
    payload: bytes
    headers: dict[str, str]
    msg_id: str
    template: str  # the subject template (bounded metric label)


def tokens(template: str) -> list[str]:
    return _TOKEN.findall(template)


def wildcard(template: str) -> str:
    """The stream subject that covers every subject of ``template``."""
    return _TOKEN.sub("*", template)


def token_value(raw: Any) -> str:
    text = _RESERVED.sub("_", str(raw)) if raw not in (None, "") else "_"
    return text


def subject_for(template: str, value: Mapping[str, Any] | None) -> str:
    """``template`` with each ``{field}`` replaced by that field of the record's value."""
    fields = value or {}
    return _TOKEN.sub(lambda m: token_value(fields.get(m.group(1))), template)


def event_id(route: Route, value: Mapping[str, Any] | None, partition: int, offset: int) -> str:
    """The event's deterministic id: its own id field, else one derived from its cause
    (a dead letter: its source record and reason; an undecodable record: its position)."""
    if value is not None:
        field = ID_FIELDS.get(route.event_type)
        if field and isinstance(value.get(field), str):
            return str(value[field])
        if route.event_type == "dead-letter" and "source_topic" in value:
            parts = (str(value.get(k)) for k in ("source_topic", "partition", "offset", "reason"))
            return derive("dead-letter", *parts)
    return derive("kafka-record", route.topic, str(partition), str(offset))


def _printable(value: bytes) -> str | None:
    """The value as text if a NATS header can carry it unchanged, else None."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text != text.strip() or _CONTROL.search(text):
        return None
    return text


def carry_headers(kafka: Sequence[tuple[str, bytes]]) -> dict[str, str]:
    """Kafka headers as NATS headers: as they are where possible, and every one of them in
    ``At-Stream-Kafka-Headers`` (JSON ``[[name, base64 value], ...]``) if any cannot be."""
    out: dict[str, str] = {}
    names = [name for name, _ in kafka]
    lossless = True
    for name, value in kafka:
        text = _printable(bytes(value)) if value is not None else None
        if (
            text is None
            or names.count(name) > 1
            or not _HEADER_NAME.fullmatch(name)
            or name.lower().startswith(_OURS)
        ):
            lossless = False
            continue
        out[name] = text
    if not lossless:
        pairs = [[n, base64.b64encode(bytes(v or b"")).decode()] for n, v in kafka]
        out[KAFKA_HEADERS] = json.dumps(pairs, separators=(",", ":"))
    return out


def kafka_headers_of(nats: Mapping[str, str]) -> list[tuple[str, bytes]]:
    """The Kafka headers a bridged message carried (the inverse of :func:`carry_headers`)."""
    packed = nats.get(KAFKA_HEADERS)
    if packed is not None:
        return [(n, base64.b64decode(v)) for n, v in json.loads(packed)]
    skip = {MSG_ID, EVENT_TYPE, SCHEMA_VERSION, ORIGIN, KAFKA_TOPIC, KAFKA_PARTITION, KAFKA_OFFSET}
    out = [(n, v.encode()) for n, v in nats.items() if n not in skip and n != CORRELATION]
    return out


def decode_value(raw: bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _an_order_if_on_orders(headers: Iterable[tuple[str, bytes]]) -> bool:
    """No ``at-kind`` header, or ``order``: what every topic but ``orders`` carries."""
    return all(n != KIND_HEADER or bytes(v) == b"order" for n, v in headers)


def from_nats(headers: Iterable[tuple[str, bytes]]) -> bool:
    """A record the bridge wrote from a NATS message: never published back (loop guard)."""
    return any(n == ORIGIN_KAFKA_HEADER and bytes(v) == ORIGIN_NATS.encode() for n, v in headers)


def to_nats(
    route: Route,
    partition: int,
    offset: int,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes]],
) -> Outbound | None:
    """The JetStream message for one Kafka record; None for one that came from NATS, and
    for the execution log's records that are not orders (quote copies, kill-switch
    changes, clock ticks, venue events: ``app.trading.commands``; not in the old spec)."""
    if from_nats(headers) or not _an_order_if_on_orders(headers):
        return None
    decoded = decode_value(value)
    msg_id = event_id(route, decoded, partition, offset)
    out = carry_headers(headers)
    correlation = next((v for n, v in headers if n == "x-correlation-id"), None)
    if correlation is not None and _printable(bytes(correlation)) is not None:
        out[CORRELATION] = bytes(correlation).decode()
    out.update(
        {
            MSG_ID: msg_id,
            EVENT_TYPE: route.event_type,
            SCHEMA_VERSION: str((decoded or {}).get("v", "unknown")),
            ORIGIN: ORIGIN_KAFKA,
            KAFKA_TOPIC: route.topic,
            KAFKA_PARTITION: str(partition),
            KAFKA_OFFSET: str(offset),
        }
    )
    subject = subject_for(route.subject, decoded)
    return Outbound(subject, value or b"", out, msg_id, route.subject)

"""JetStream message -> Kafka record: a legacy signal, or a dead letter. Pure functions.

A message is parsed and validated exactly like a webhook body (``app.gateway.parse_json``
and ``validate``, under the configured provider's unknown-field policy). Its signal id
derives from its ``Nats-Msg-Id`` when it has one, else from its stream and sequence, and its
``received_at`` is the time JetStream stored it: a redelivery yields the same record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.bridge.outbound_map import (
    CORRELATION,
    MSG_ID,
    ORIGIN,
    ORIGIN_KAFKA,
    ORIGIN_KAFKA_HEADER,
    ORIGIN_NATS,
)
from app.errors import InvalidSignal, ProblemError
from app.gateway import parse_json, validate
from app.ids import derive, valid_correlation_id
from app.models import DeadLetter, Signal
from app.providers import Provider
from app.topics import CORRELATION_HEADER

NATS_STREAM_HEADER = "at-stream-nats-stream"
NATS_SUBJECT_HEADER = "at-stream-nats-subject"
NATS_SEQUENCE_HEADER = "at-stream-nats-sequence"
NATS_MSG_ID_HEADER = "at-stream-nats-msg-id"


@dataclass(frozen=True, slots=True)
class Inbound:
    """One legacy NATS message, as the bridge received it."""

    stream: str
    subject: str
    sequence: int  # the stream sequence
    stored_at: datetime  # JetStream's timestamp of the message
    data: bytes
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class Record:
    """What to produce for it: on ``signals`` (``signal`` set) or on the dead-letter topic."""

    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    signal: Signal | None = None
    reason: str | None = None


def delivery_key(msg: Inbound) -> str:
    """What identifies the legacy delivery: its ``Nats-Msg-Id``, else stream + sequence."""
    msg_id = msg.headers.get(MSG_ID)
    if msg_id:
        return f"nats:msgid:{msg_id}"
    return f"nats:seq:{msg.stream}:{msg.sequence}"


def correlation_of(msg: Inbound) -> str:
    given = msg.headers.get(CORRELATION) or msg.headers.get(CORRELATION_HEADER)
    if given and valid_correlation_id(given):
        return given
    return f"nats:{msg.stream}:{msg.sequence}"


def from_kafka(msg: Inbound) -> bool:
    """A message the bridge published itself (loop guard on the inbound side)."""
    return msg.headers.get(ORIGIN) == ORIGIN_KAFKA


def _headers(msg: Inbound, correlation: str) -> list[tuple[str, bytes]]:
    out = [(name, value.encode()) for name, value in msg.headers.items()]
    out += [
        (CORRELATION_HEADER, correlation.encode()),
        (ORIGIN_KAFKA_HEADER, ORIGIN_NATS.encode()),
        (NATS_STREAM_HEADER, msg.stream.encode()),
        (NATS_SUBJECT_HEADER, msg.subject.encode()),
        (NATS_SEQUENCE_HEADER, str(msg.sequence).encode()),
    ]
    if msg.headers.get(MSG_ID):
        out.append((NATS_MSG_ID_HEADER, msg.headers[MSG_ID].encode()))
    return out


def reason_of(exc: ProblemError) -> str:
    """A specific reason: the problem's detail and, for a bad signal, each field error."""
    if isinstance(exc, InvalidSignal) and exc.errors:
        fields = "; ".join(f"{e['pointer']}: {e['detail']}" for e in exc.errors)
        return f"{exc.slug}: {fields}"
    return f"{exc.slug}: {exc.detail}"


def to_kafka(msg: Inbound, provider: Provider) -> Record:
    """The ``signals`` record of a valid legacy signal, else its dead-letter record."""
    correlation = correlation_of(msg)
    headers = _headers(msg, correlation)
    try:
        signal_in, unknown = validate(provider, parse_json(msg.data))
    except ProblemError as exc:
        return dead_letter(msg, reason_of(exc), headers)
    signal = Signal(
        **signal_in.model_dump(),
        signal_id=derive("signal", delivery_key(msg)),
        provider=provider.id,
        received_at=msg.stored_at,
        unknown_fields=unknown,
    )
    return Record(signal.key, signal.dumps(), headers, signal=signal)


def dead_letter(msg: Inbound, reason: str, headers: list[tuple[str, bytes]]) -> Record:
    """A dead letter for a NATS message: ``source_topic`` ``nats:<stream>:<subject>``,
    ``partition`` -1 (none), ``offset`` the stream sequence."""
    where = f"NATS stream {msg.stream} sequence {msg.sequence}"
    record = DeadLetter(
        source_topic=f"nats:{msg.stream}:{msg.subject}",
        partition=-1,
        offset=msg.sequence,
        reason=f"{reason} ({where})",
        key=msg.headers.get(MSG_ID),
        value=msg.data.decode("utf-8", "replace"),
    )
    # not marked as from NATS: the verdict is a new event, published to the dead-letter subject
    kept = [(n, v) for n, v in headers if n != ORIGIN_KAFKA_HEADER]
    return Record(None, record.dumps(), kept, reason=record.reason)


def describe(record: Record) -> dict[str, Any]:
    """For logs."""
    if record.signal is not None:
        return {"signal_id": record.signal.signal_id}
    return {"reason": record.reason}

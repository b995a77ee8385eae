"""Kafka record helpers shared by the agents and the webhook: headers and decoding."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol, TypeVar, cast

from pydantic import BaseModel, ValidationError

from app.errors import DecodeError

CORRELATION_HEADER = "x-correlation-id"
CAUSE_HEADER = "x-cause-id"
"""On an order: the agent that executed it (its fill is that agent's to produce)."""

Headers = Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None
M = TypeVar("M", bound=BaseModel)


def header_dict(headers: Headers) -> dict[str, bytes]:
    """Kafka headers as a dict, whichever shape the client gave them in."""
    return {} if headers is None else dict(headers)


def correlation_of(headers: Headers) -> str:
    raw = header_dict(headers).get(CORRELATION_HEADER, b"")
    return raw.decode("utf-8", "replace")


def derived_headers(correlation_id: str, cause_id: str) -> dict[str, bytes]:
    """Headers of a record derived from another: the correlation id travels on."""
    return {CORRELATION_HEADER: correlation_id.encode(), CAUSE_HEADER: cause_id.encode()}


def decode(model: type[M], topic: str, value: bytes | None) -> M:
    """Decode a topic value or raise DecodeError with a specific reason."""
    if value is None:
        raise DecodeError(topic, "record has no value (tombstone)")
    try:
        return model.model_validate_json(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "value"
        raise DecodeError(topic, f"not a valid {model.__name__}: {where}: {first['msg']}") from None


class Keyed(Protocol):
    account: str
    symbol: str


def decode_keyed(model: type[M], topic: str, key: bytes | None, value: bytes | None) -> M:
    """``decode``, and the record's key must be its value's ``account|symbol``: a record of
    one position under another key would be processed out of that position's order."""
    event = decode(model, topic, value)
    keyed = cast(Keyed, event)  # Signal, Order and Fill all have both fields
    expected = f"{keyed.account}|{keyed.symbol}".encode()
    if key != expected:
        shown = "none" if key is None else repr(bytes(key)[:80].decode("utf-8", "replace"))
        raise DecodeError(topic, f"key {shown} is not the value's account|symbol")
    return event

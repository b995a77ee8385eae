"""The topic tap: read any topic, as it is, for people. No consumer group, no commits.

``tap()`` reads a topic's partitions (all, or the ones asked for) from the beginning, an
offset or a point in time, up to the end offsets it saw at start - or, with ``follow``,
until cancelled - and yields ``TapRecord``\\ s. ``main()`` is the ``tap`` command:

    tap TOPIC [--from-beginning | --offset N | --since ISO8601] [--partition P ...]
        [--follow] [--max N] [--format json|table] [--bootstrap HOST:PORT]

Without a start option it reads from the beginning. A naive ``--since`` is UTC.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import sys
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from app.errors import AtStreamError, ConfigError
from app.settings import load_settings

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
StartAt = int | datetime | None
"""Where to start in each partition: None the beginning, an offset, or a time."""

_TOPIC = re.compile(r"^[A-Za-z0-9._\-]{1,249}$")
_BOOTSTRAP = re.compile(r"^[A-Za-z0-9.\-_\[\]:]+:\d{1,5}(,[A-Za-z0-9.\-_\[\]:]+:\d{1,5})*$")


class TapError(AtStreamError):
    """The tap cannot read what was asked: bad arguments, unknown topic or partition."""


@dataclass(frozen=True, slots=True)
class TapRecord:
    topic: str
    partition: int
    offset: int
    timestamp: datetime
    key: str | None
    headers: dict[str, str] = field(default_factory=dict)
    value: dict[str, Any] | str | None = None
    """The JSON object if the value is one; else its UTF-8 text (with replacement)."""


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "replace")


def decode_value(raw: bytes | None) -> dict[str, Any] | str | None:
    """A JSON object as a dict; anything else (arrays and scalars too) as text."""
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        data = None
    return data if isinstance(data, dict) else raw.decode("utf-8", "replace")


def to_record(raw: Any) -> TapRecord:
    """A TapRecord of an aiokafka ConsumerRecord (bytes key and value)."""
    return TapRecord(
        topic=raw.topic,
        partition=raw.partition,
        offset=raw.offset,
        timestamp=EPOCH + timedelta(milliseconds=raw.timestamp),
        key=_text(raw.key),
        headers={name: _text(value) or "" for name, value in raw.headers or ()},
        value=decode_value(raw.value),
    )


async def _partitions(
    consumer: AIOKafkaConsumer, topic: str, wanted: Sequence[int] | None
) -> list[TopicPartition]:
    # The public partitions_for_topic() only knows topics the client already tracks.
    cluster = await consumer._client.fetch_all_metadata()
    known: set[int] | None = cluster.partitions_for_topic(topic)
    if not known:
        raise TapError(f"topic {topic!r} does not exist")
    missing = sorted(set(wanted or ()) - known)
    if missing:
        raise TapError(f"topic {topic!r} has no partition {missing[0]} (it has {len(known)})")
    return [TopicPartition(topic, p) for p in sorted(set(wanted or known))]


async def _start_offsets(
    consumer: AIOKafkaConsumer,
    tps: list[TopicPartition],
    start: StartAt,
    firsts: dict[TopicPartition, int],
    ends: dict[TopicPartition, int],
) -> dict[TopicPartition, int]:
    if start is None:
        return dict(firsts)
    if isinstance(start, datetime):
        when = start if start.tzinfo else start.replace(tzinfo=UTC)
        ms = (when - EPOCH) // timedelta(milliseconds=1)
        found = await consumer.offsets_for_times({tp: ms for tp in tps})
        return {tp: ends[tp] if found.get(tp) is None else found[tp].offset for tp in tps}
    if start < 0:
        raise TapError(f"offset must be 0 or more, got {start}")
    out = {}
    for tp in tps:
        out[tp] = min(max(start, firsts[tp]), ends[tp])
        if out[tp] != start:
            log.warning("partition %d has no offset %d: from %d", tp.partition, start, out[tp])
    return out


async def tap(
    topic: str,
    *,
    bootstrap: str,
    start: StartAt = None,
    partitions: Sequence[int] | None = None,
    follow: bool = False,
    max_records: int | None = None,
    poll_ms: int = 500,
) -> AsyncGenerator[TapRecord, None]:
    """Yield the records of ``topic`` from ``start``; see the module's docstring.

    Without ``follow`` it stops at the end offsets seen at start. Records of one
    partition come in offset order; partitions interleave. Use ``aclosing`` when
    breaking out early, so the consumer is stopped at once.
    """
    if max_records is not None and max_records < 1:
        raise TapError(f"max must be 1 or more, got {max_records}")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="at-stream-tap",
    )
    try:
        await consumer.start()
        tps = await _partitions(consumer, topic, partitions)
        consumer.assign(tps)
        firsts = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        for tp, offset in (await _start_offsets(consumer, tps, start, firsts, ends)).items():
            consumer.seek(tp, offset)
        pending = {tp for tp in tps if follow or await consumer.position(tp) < ends[tp]}
        consumer.pause(*(set(tps) - pending))
        count = 0
        while pending:
            batch = await consumer.getmany(timeout_ms=poll_ms)
            for tp, records in batch.items():
                for raw in records:
                    if not follow and raw.offset >= ends[tp]:
                        break
                    yield to_record(raw)
                    count += 1
                    if count == max_records:
                        return
            if not follow:
                done = {tp for tp in pending if await consumer.position(tp) >= ends[tp]}
                consumer.pause(*done)
                pending -= done
    finally:
        await consumer.stop()


# -- formatters ---------------------------------------------------------------------------


def _iso(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_json_line(record: TapRecord) -> str:
    """One JSON object, on one line (no trailing newline)."""
    data = asdict(record) | {"timestamp": _iso(record.timestamp)}
    return json.dumps(data, ensure_ascii=False)


TOPIC_WIDTH = 16
KEY_WIDTH = 24
HEADERS_WIDTH = 40
VALUE_WIDTH = 100
TABLE_HEADER = (
    f"{'TOPIC':<{TOPIC_WIDTH}}  {'PART':>4}  {'OFFSET':>10}  {'TIMESTAMP':<24}  "
    f"{'KEY':<{KEY_WIDTH}}  {'HEADERS':<{HEADERS_WIDTH}}  VALUE"
)


def _cell(text: str, width: int) -> str:
    flat = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def to_table_row(record: TapRecord) -> str:
    """Fixed-width columns: topic, partition, offset, timestamp, key, headers
    (``name=value`` separated by spaces), then the value, cut short."""
    value = record.value
    shown = json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value or ""
    key = "-" if record.key is None else _cell(record.key, KEY_WIDTH)
    headers = " ".join(f"{k}={v}" for k, v in record.headers.items()) or "-"
    return (
        f"{_cell(record.topic, TOPIC_WIDTH):<{TOPIC_WIDTH}}  "
        f"{record.partition:>4}  {record.offset:>10}  {_iso(record.timestamp):<24}  "
        f"{key:<{KEY_WIDTH}}  {_cell(headers, HEADERS_WIDTH):<{HEADERS_WIDTH}}  "
        f"{_cell(shown, VALUE_WIDTH)}"
    )


# -- command line -------------------------------------------------------------------------


@dataclass(frozen=True)
class TapOptions:
    topic: str
    start: StartAt = None
    partitions: tuple[int, ...] | None = None
    follow: bool = False
    max_records: int | None = None
    format: str = "json"
    bootstrap: str | None = None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise TapError(message)


def _natural(what: str, least: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be an integer, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{what} must be {least} or more, got {value}")
        return value

    return parse


def iso_datetime(text: str) -> datetime:
    """An argparse type: an ISO 8601 date-time; one without a zone is UTC."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date-time: {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _matching(what: str, pattern: re.Pattern[str]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not pattern.match(text):
            raise argparse.ArgumentTypeError(f"invalid {what}: {text!r}")
        return text

    return parse


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="at-stream tap", description="Print the records of a Kafka topic.")
    p.add_argument("topic", type=_matching("topic name", _TOPIC))
    where = p.add_mutually_exclusive_group()
    where.add_argument("--from-beginning", action="store_true", help="the default")
    where.add_argument("--offset", type=_natural("offset", 0), help="start offset (each partition)")
    where.add_argument("--since", type=iso_datetime, help="ISO 8601 time (naive is UTC)")
    p.add_argument("--partition", type=_natural("partition", 0), action="append", dest="partitions")
    p.add_argument("--follow", action="store_true", help="keep reading until interrupted")
    p.add_argument("--max", type=_natural("max", 1), dest="max_records", help="stop after N")
    p.add_argument("--format", choices=["json", "table"], default="json")
    p.add_argument("--bootstrap", type=_matching("bootstrap", _BOOTSTRAP), help="HOST:PORT[,...]")
    return p


def parse_args(argv: Sequence[str]) -> TapOptions:
    """The options of ``argv``; TapError (one line) if they are bad."""
    ns = parser().parse_args(list(argv))
    start: StartAt = ns.offset if ns.offset is not None else ns.since
    parts = tuple(dict.fromkeys(ns.partitions)) if ns.partitions else None
    return TapOptions(ns.topic, start, parts, ns.follow, ns.max_records, ns.format, ns.bootstrap)


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"at-stream tap: error: {message}\n")
    return code


async def _run(opts: TapOptions, bootstrap: str) -> int:
    out = sys.stdout
    fmt = to_json_line if opts.format == "json" else to_table_row
    try:
        if opts.format == "table":
            out.write(TABLE_HEADER + "\n")
        records = tap(
            opts.topic,
            bootstrap=bootstrap,
            start=opts.start,
            partitions=opts.partitions,
            follow=opts.follow,
            max_records=opts.max_records,
        )
        async with aclosing(records):
            async for record in records:
                out.write(fmt(record) + "\n")
                if opts.follow:
                    out.flush()
        out.flush()
    except TapError as exc:
        return _fail(str(exc), 2)
    except BrokenPipeError:  # `| head`: the reader left; stay quiet on exit
        with suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        return 0
    except (KafkaError, OSError) as exc:
        detail = str(exc) if type(exc).__name__ in str(exc) else f"{type(exc).__name__}: {exc}"
        return _fail(f"cannot read from Kafka at {bootstrap}: {detail}", 1)
    return 0


def main(argv: list[str]) -> int:
    """The ``tap`` command: 0 done, 1 broker trouble, 2 bad arguments, 130 interrupted."""
    try:
        opts = parse_args(argv)
        bootstrap = opts.bootstrap or load_settings().bootstrap
    except (TapError, ConfigError) as exc:
        return _fail(str(exc), 2)
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    try:
        return asyncio.run(_run(opts, bootstrap))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""``at-stream audit ...``: trace, export, serve, migrate, retention. No broker needed.

The commands read the store directly (``AT_STREAM_AUDIT_URL``), not through the API.
Bad input is one line on stderr and exit 2; ``trace`` of an unknown id exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TextIO, TypeVar

import orjson

from app.audit import logical_topics, reader
from app.audit.errors import AuditError
from app.audit.queries import EventFilter
from app.audit.records import COLUMNS, time_us
from app.audit.store import Store, open_store
from app.settings import Settings, load_settings

T = TypeVar("T")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="at-stream audit", description=__doc__)
    sub = p.add_subparsers(dest="action", required=True)
    t = sub.add_parser("trace", help="the trace of a correlation id or signal id, as a table")
    t.add_argument("ident", metavar="correlation-id|signal-id")
    t.add_argument("--json", action="store_true", help="the API's JSON instead of a table")
    e = sub.add_parser("export", help="every record in a time range (compliance export)")
    e.add_argument("--since", required=True, help="ISO 8601 broker time, inclusive")
    e.add_argument("--until", help="ISO 8601 broker time, exclusive (default: now)")
    e.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    e.add_argument("--topic", help="one topic only")
    e.add_argument("--out", help="write to this file (default: stdout)")
    sub.add_parser("serve", help="the read-only HTTP API (AT_STREAM_AUDIT_API_HOST/PORT)")
    sub.add_parser("migrate", help="create or migrate the schema; print its version")
    sub.add_parser("retention", help="delete what the retention settings expire, once")
    return p


def _time(name: str, value: str) -> int:
    found = time_us(value.replace(" ", "T"))
    if found is None:
        raise AuditError(f"--{name} is not an ISO 8601 time: {value!r}")
    return found


async def _with_store(settings: Settings, use: Callable[[Store], Awaitable[T]]) -> T:
    store = open_store(settings.audit_store_url)
    try:
        await store.migrate()
        return await use(store)
    finally:
        await store.close()


def render_trace(found: dict[str, Any]) -> str:
    """A trace as a terminal table."""
    head = ("step", "at (UTC)", "+ms", "total ms", "record", "id", "summary")
    lines = [head]
    for s in found["steps"]:
        where = f"{s['topic']}[{s['partition']}]@{s['offset']}" if s["topic"] else ""
        prev = "" if s["since_previous_ms"] is None else f"{s['since_previous_ms']:.3f}"
        total = "" if s["since_start_ms"] is None else f"{s['since_start_ms']:.3f}"
        lines.append(
            (s["step"], s["at"] or "", prev, total, where, s["event_id"] or "", s["summary"])
        )
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(head))]
    out = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in lines
    ]
    out.insert(1, "  ".join("-" * w for w in widths))
    ids = ", ".join(found["correlation_ids"]) or "-"
    total_ms = found["total_ms"]
    out.append(
        f"\ncorrelation id(s): {ids}; signal id(s): {', '.join(found['signal_ids']) or '-'}"
        + (f"; receipt to last step {total_ms:.3f} ms" if total_ms is not None else "")
    )
    return "\n".join(out)


def csv_row(row: dict[str, Any]) -> list[Any]:
    event = reader.event_json(row)
    out: list[Any] = []
    for col in COLUMNS:
        if col == "headers":
            out.append(orjson.dumps(event["headers"]).decode())
        elif col == "payload":
            out.append(row["payload"] or "")
        elif col == "value_raw":
            out.append(event["value_base64"] or "")
        elif col.endswith("_us"):
            out.append(event[col.removesuffix("_us")] or "")
        else:
            out.append("" if row[col] is None else row[col])
    return out


async def _export(store: Store, f: EventFilter, fmt: str, out: TextIO) -> int:
    n = 0
    writer = csv.writer(out) if fmt == "csv" else None
    if writer is not None:
        writer.writerow([c.removesuffix("_us") if c.endswith("_us") else c for c in COLUMNS])
    async for row in reader.export(store, f):
        if writer is not None:
            writer.writerow(csv_row(row))
        else:
            out.write(orjson.dumps(reader.event_json(row)).decode() + "\n")
        n += 1
    return n


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    settings = load_settings()
    if args.action == "serve":
        from app.audit.api import serve

        serve(settings)
        return 0
    if args.action == "migrate":
        version = asyncio.run(_with_store(settings, lambda s: s.version()))
        print(f"audit schema version {version}")
        return 0
    if args.action == "retention":
        logical = logical_topics(settings)
        deleted = asyncio.run(
            _with_store(
                settings,
                lambda s: reader.enforce_retention(
                    s, settings.audit_retention_days, settings.audit_retention_topics, logical
                ),
            )
        )
        print(f"deleted {deleted} expired audit records")
        return 0
    if args.action == "trace":
        found = asyncio.run(_with_store(settings, lambda s: reader.trace_of(s, args.ident)))
        if found is None:
            print(
                f"at-stream audit: no record with correlation id or signal id {args.ident!r}",
                file=sys.stderr,
            )
            return 1
        doc = found.as_dict()
        print(
            orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()
            if args.json
            else render_trace(doc)
        )
        return 0
    since = _time("since", args.since)
    until = _time("until", args.until) if args.until else time.time_ns() // 1000
    f = EventFilter(topic=args.topic, since_us=since, until_us=until)
    if args.out:
        with open(args.out, "w", newline="", encoding="utf-8") as fh:
            n = asyncio.run(_with_store(settings, lambda s: _export(s, f, args.format, fh)))
        print(f"exported {n} records to {args.out}", file=sys.stderr)
    else:
        asyncio.run(_with_store(settings, lambda s: _export(s, f, args.format, sys.stdout)))
    return 0

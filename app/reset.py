"""``at-stream reset``: move a consumer group's offsets and rebuild the tables.

Faust has no application-reset tool (Kafka Streams does); this is ours. Like
``kafka-consumer-groups --reset-offsets`` it shows the plan and changes nothing unless
``--execute``. It refuses while the group has active members. With ``--execute`` it
commits the target offsets, deletes the changelog topics of the derived-state tables
(positions, order states) and their local RocksDB files, so restarted workers rebuild
those tables from the topics. Effect ledgers (``effects``, ``deliveries``) are
kept: they record what is already in the log, so the replay produces no record twice
(beyond the few the ``effects`` marks trail by, which carry the ids they had). Then it
shows the rebuild's progress until the group has caught up again.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from app.admin import topic_names
from app.errors import AtStreamError
from app.rebuild import RebuildError, changelog_topic, rebuild_positions
from app.settings import Settings, load_settings
from app.tap import iso_datetime

STATE_TABLES = ("positions", "order-states", "execution-books")


class ResetError(AtStreamError):
    """The reset cannot be done as asked."""


@dataclass(frozen=True)
class Move:
    tp: TopicPartition
    current: int | None
    target: int
    end: int


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="at-stream reset", description=__doc__.split("\n")[0])
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--to-earliest", action="store_true")
    target.add_argument("--to-latest", action="store_true")
    target.add_argument("--to-offset", type=int, metavar="N")
    target.add_argument("--to-datetime", metavar="ISO8601", type=iso_datetime)
    p.add_argument("--group", help="consumer group (default: AT_STREAM_APP_ID)")
    p.add_argument(
        "--topic", action="append", default=[], metavar="NAME[:P,P...]",
        help="topic, optionally some partitions (default: every topic the app consumes)",
    )  # fmt: skip
    p.add_argument("--execute", action="store_true", help="do it (default: show the plan)")
    p.add_argument(
        "--data-dir", action="append", type=Path, default=[],
        help="a worker's AT_STREAM_DATA_DIR whose table files to delete (default: ours)",
    )  # fmt: skip
    p.add_argument("--no-wait", action="store_true", help="do not follow the rebuild")
    p.add_argument("--wait-timeout", type=float, default=3600.0)
    args = p.parse_args(argv)
    if args.to_offset is not None and args.to_offset < 0:
        p.error("--to-offset must be >= 0")
    return args


def consumed_topics(settings: Settings) -> list[str]:
    """Every topic the app's agents consume (all of ours but the dead letters)."""
    produced_only = {settings.dead_letter_topic, settings.order_events_topic}
    return [t for t in topic_names(settings) if t not in produced_only]


async def plan(
    consumer: AIOKafkaConsumer, admin: AIOKafkaAdminClient, group: str, args: argparse.Namespace,
    topics: list[str],
) -> list[Move]:  # fmt: skip
    """The offset each selected partition moves to."""
    await consumer._client.force_metadata_update()
    tps: list[TopicPartition] = []
    for spec in args.topic or topics:
        name, _, parts = spec.partition(":")
        known = consumer.partitions_for_topic(name)
        if not known and not args.topic:
            continue  # a default topic this deployment has not created yet
        if not known:
            raise ResetError(f"topic {name!r} does not exist")
        chosen = sorted(known) if not parts else [int(x) for x in parts.split(",")]
        if missing := set(chosen) - known:
            raise ResetError(f"topic {name!r} has no partition {sorted(missing)}")
        tps.extend(TopicPartition(name, p) for p in chosen)
    begin = await consumer.beginning_offsets(tps)
    end = await consumer.end_offsets(tps)
    committed = await admin.list_consumer_group_offsets(group, partitions=tps)
    times: dict[TopicPartition, object] = {}
    if args.to_datetime is not None:
        ms = int(args.to_datetime.timestamp() * 1000)
        times = dict(await consumer.offsets_for_times(dict.fromkeys(tps, ms)))
    moves = []
    for tp in tps:
        if args.to_earliest:
            target = begin[tp]
        elif args.to_latest:
            target = end[tp]
        elif args.to_offset is not None:
            target = min(max(args.to_offset, begin[tp]), end[tp])
        else:
            found = times.get(tp)
            target = end[tp] if found is None else int(found.offset)  # type: ignore[attr-defined]
        current = committed.get(tp)
        known_offset = None if current is None or current.offset < 0 else current.offset
        moves.append(Move(tp, known_offset, target, end[tp]))
    return moves


def render(moves: list[Move]) -> str:
    lines = [f"{'TOPIC':<40} {'PART':>4} {'CURRENT':>10} {'TARGET':>10} {'END':>10}"]
    for m in moves:
        current = "-" if m.current is None else str(m.current)
        lines.append(
            f"{m.tp.topic:<40} {m.tp.partition:>4} {current:>10} {m.target:>10} {m.end:>10}"
        )
    total = sum(m.end - m.target for m in moves)
    lines.append(f"{total} record(s) to process again")
    return "\n".join(lines)


async def active_members(admin: AIOKafkaAdminClient, group: str) -> int:
    described = await admin.describe_consumer_groups([group])
    groups = [g for r in described for g in r.to_object()["groups"]]
    return sum(len(g["members"]) for g in groups if g["group"] == group)


async def clear_state(admin: AIOKafkaAdminClient, group: str, data_dirs: list[Path]) -> list[str]:
    """Delete the derived tables' changelog topics and local files; return what went."""
    gone: list[str] = []
    changelogs = [changelog_topic(group, t) for t in STATE_TABLES]
    existing = [t for t in changelogs if t in set(await admin.list_topics())]
    if existing:
        await admin.delete_topics(existing)
        deadline = time.monotonic() + 60
        while set(existing) & set(await admin.list_topics()):
            if time.monotonic() > deadline:
                raise ResetError(f"changelog topics still exist after 60s: {existing}")
            await asyncio.sleep(0.5)
        gone.extend(existing)
    for data in data_dirs:
        for table in STATE_TABLES:
            for path in sorted((data / "v1" / "tables").glob(f"{table}-*.db")):
                shutil.rmtree(path)
                gone.append(str(path))
    return gone


def progress_line(
    done: int, todo: int, elapsed: float, width: int = 40, label: str = "rebuild"
) -> str:
    """``rebuild [###.....] done/todo  rate records/s  eta``: the rate since the reset."""
    filled = int(width * min(done, todo) / max(todo, 1))
    line = f"{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{todo}"
    if elapsed <= 0 or done <= 0:
        return line
    rate = done / elapsed
    left = max(todo - done, 0) / rate
    return f"{line}  {rate:,.0f} records/s  {'done' if done >= todo else f'{left:,.0f} s left'}"


async def follow(admin: AIOKafkaAdminClient, group: str, moves: list[Move], timeout: float) -> bool:
    """A progress bar of the rebuild, from the group's committed offsets, with its rate;
    whether the group caught up within ``timeout``."""
    todo = sum(m.end - m.target for m in moves) or 1
    tps = [m.tp for m in moves]
    started = time.monotonic()
    deadline = started + timeout
    while True:
        committed = await admin.list_consumer_group_offsets(group, partitions=tps)
        done = sum(
            max(0, min(m.end, committed[m.tp].offset if m.tp in committed else m.target) - m.target)
            for m in moves
        )
        line = progress_line(done, todo, time.monotonic() - started)
        sys.stderr.write(f"\r{line}")
        sys.stderr.flush()
        if done >= todo or time.monotonic() > deadline:
            sys.stderr.write("\n")
            return done >= todo
        await asyncio.sleep(0.5)


def incomplete(moves: list[Move], partitions: dict[str, set[int]]) -> str | None:
    """Why ``--execute`` must refuse ``moves``: the derived tables it deletes are rebuilt
    only by a replay of every partition of ``orders`` and ``fills`` (``partitions``: each
    of those topics' partitions); None if it need not."""
    for topic, known in partitions.items():
        missing = known - {m.tp.partition for m in moves if m.tp.topic == topic}
        if missing:
            return (
                f"--execute deletes the {', '.join(STATE_TABLES)} tables, which only a replay "
                f"of every partition of {topic!r} rebuilds: select partition(s) "
                f"{', '.join(map(str, sorted(missing)))} too, or leave out --topic"
            )
    return None


async def rebuild(settings: Settings, group: str, moves: list[Move]) -> None:
    """The positions, from ``fills`` (``app.rebuild``), with a progress bar."""
    fills = [m for m in moves if m.tp.topic == settings.fills_topic]
    if not fills:
        return

    def progress(done: int, todo: int, elapsed: float) -> None:
        sys.stderr.write(f"\r{progress_line(done, todo, elapsed, label='positions')}")
        sys.stderr.flush()

    try:
        done = await rebuild_positions(
            settings,
            group,
            {m.tp: m.target for m in fills},
            {m.tp: m.end for m in fills},
            progress,
        )
    except (RebuildError, KafkaError, OSError) as exc:
        raise ResetError(
            f"offsets reset, but the positions were not rebuilt ({exc}): workers started "
            "now rebuild them from fills through their agents"
        ) from exc
    if done.fills:
        sys.stderr.write("\n")
    rate = done.fills / max(done.read_s, 1e-6)
    sys.stdout.write(
        f"positions rebuilt from {done.fills} fill record(s) in {done.read_s:.2f}s "
        f"({rate:,.0f} records/s): {done.positions} written to "
        f"{changelog_topic(group)} in {done.written_s:.2f}s\n"
    )


async def run(args: argparse.Namespace, settings: Settings) -> int:
    group = args.group or settings.app_id
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap, group_id=group, enable_auto_commit=False
    )
    await admin.start()
    await consumer.start()
    try:
        moves = await plan(consumer, admin, group, args, consumed_topics(settings))
        sys.stdout.write(render(moves) + "\n")
        if not args.execute:
            sys.stdout.write("dry run: nothing changed (add --execute)\n")
            return 0
        if members := await active_members(admin, group):
            raise ResetError(f"group {group!r} has {members} active member(s): stop its workers")
        sources = (settings.orders_topic, settings.fills_topic)
        known = {t: set(consumer.partitions_for_topic(t) or ()) for t in sources}
        if why := incomplete(moves, known):
            raise ResetError(why)
        consumer.assign([m.tp for m in moves])
        await consumer.commit({m.tp: OffsetAndMetadata(m.target, "") for m in moves})
        for item in await clear_state(admin, group, args.data_dir or [settings.data_dir]):
            sys.stdout.write(f"deleted {item}\n")
        await rebuild(settings, group, moves)
        sys.stdout.write("offsets reset; start the workers to rebuild the tables\n")
        if not args.no_wait and not await follow(admin, group, moves, args.wait_timeout):
            sys.stderr.write(
                f"at-stream reset: the group has not caught up after {args.wait_timeout:.0f}s "
                "(are its workers running?); the reset itself is done\n"
            )
            return 1
        return 0
    finally:
        await consumer.stop()
        await admin.close()


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        return asyncio.run(run(args, load_settings()))
    except AtStreamError as exc:
        sys.stderr.write(f"at-stream reset: {exc}\n")
        return 2

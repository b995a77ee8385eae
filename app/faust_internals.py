"""Every use of Faust's internals in at-stream, behind small functions.

Faust has no public call for what these do: read or write one partition of a table's
RocksDB store from outside a stream event, run code as if in an event's context, record a
changelog offset, or hand an agent every record its channel holds at once. Each function
names what it relies on; ``tests/unit/test_faust_internals.py`` checks that those names
are still there, so a Faust upgrade that moves one fails there and not in production.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncGenerator, Iterator
from contextlib import contextmanager
from typing import Any

from faust.streams import _current_event
from faust.types import TP, EventT, StreamT

log = logging.getLogger(__name__)


def partition_db(table: Any, partition: int) -> Any:
    """The rocksdict database of one partition of ``table`` (opened on first use)."""
    return store_db(table.data, partition)


def store_db(store: Any, partition: int) -> Any:
    """The rocksdict database of one partition of a RocksDB ``store`` (opened on first use)."""
    return store._db_for_partition(partition)


def close_store_dbs(store: Any) -> None:
    """Close every partition database ``store`` has open (Faust reopens them on use)."""
    for partition in list(store._dbs):
        store._dbs.pop(partition).close()


def open_dbs(table: Any) -> list[Any]:
    """The rocksdict databases of the partitions ``table``'s store has open."""
    return list(getattr(table.data, "_dbs", {}).values())


def assigned_partitions(app: Any, topic: str) -> set[int]:
    """The partitions of ``topic`` assigned to this worker now (its consumer's assignment)."""
    return {tp.partition for tp in app.consumer.assignment() if tp.topic == topic}


def kafka_producer(producer: Any) -> Any:
    """The aiokafka producer inside Faust's (started with the app): ``app.outbox`` builds
    its record batches with it."""
    return producer._ensure_producer()


def owner_url(app: Any, topic: str, partition: int) -> str | None:
    """The web URL of the worker that owns ``topic``'s ``partition``, from the assignor.

    Faust's ``Router.key_store`` asks the producer's topic metadata for the key's partition
    first, and that can lack the topic for minutes (after a broker hang); we know the
    partition (``app.tables.partition_of``) and read the assignor's map directly.
    """
    url = app.assignor._tps_url.get(TP(topic, partition))
    return None if url is None else str(url)


def note_partition(table: Any, key: bytes, partition: int | None) -> None:
    """Tell the store's key index where ``key`` lives (None: it was deleted).

    Reads from outside an event look the index up before trying every partition.
    """
    index = table.data._key_index
    if partition is None:
        index.pop(key, None)
    else:
        index[key] = partition


def set_persisted_offset(table: Any, partition: int, offset: int) -> None:
    """Record in the partition's database how far its changelog is in it (what Faust's
    own ``_on_changelog_sent`` does per record): recovery resumes after ``offset``."""
    topic = table.changelog_topic.get_topic_name()
    table.data.set_persisted_offset(TP(topic, partition), offset)


def generation_of(event: EventT[Any]) -> int | None:
    """The consumer generation (rebalance) ``event``'s record was fetched in (None: not
    fetched by a consumer)."""
    generation: int | None = event.message.generation_id
    return generation


def current_generation(app: Any) -> int | None:
    """The consumer generation now: it changes with every rebalance."""
    generation: int | None = app.consumer_generation_id
    return generation


IDLE_TURNS = 20
"""Event loop turns without a new record that end a batch."""


@contextmanager
def in_event(event: EventT[Any]) -> Iterator[None]:
    """Run the block as if in ``event``'s context: table reads and writes use its partition."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


async def batches(
    stream: StreamT[Any], max_records: int, linger: float = 0.005
) -> AsyncGenerator[list[EventT[Any]], None]:
    """The agent's records, as many at a time as its channel holds (up to ``max_records``).

    Waits for one record, then takes every other one already delivered, without Faust's
    per-record stream machinery (about 125 us a record). Faust's consumer hands over one
    record per event loop turn (``Consumer._drain_messages`` awaits each delivery), so it
    gives the loop turns, up to ``linger`` seconds, while records keep coming:
    larger batches cost less per record (produce requests, table writes, marks). When
    ``IDLE_TURNS`` turns bring nothing, the batch goes at once. Each record is tracked as
    unacknowledged, as Faust's stream does, and acknowledged only when the caller asks
    for the next batch: an offset is committed after the caller has finished with its
    batch, never while it works on it, and never if it raised.

    A record taken while a rebalance is under way (flow stopped) or from a consumer
    generation before the last one is dropped and NOT acknowledged. Faust's own stream
    acks these ("otherwise the lag would increase"), and Faust commits on a revoke
    once nothing is unacknowledged: a record dropped and acked then is committed over
    and never read again. Unacknowledged, it stays above the commit, and the seek after
    the rebalance reads it again. Ends when Faust stops the channel.
    """
    await stream.maybe_start()
    channel: Any = stream.channel
    app = stream.app
    queue = channel.queue
    consumer = app.consumer
    unacked = consumer.unacked
    acking_topics = app.topics.acking_topics
    flow_control = app.flow_control
    loop = asyncio.get_running_loop()
    while not stream.should_stop:
        try:
            items = [await queue.get()]
            deadline, idle = loop.time() + linger, 0
            while len(items) < max_records and idle < IDLE_TURNS and loop.time() < deadline:
                if queue.empty():
                    idle += 1
                    await asyncio.sleep(0)  # the consumer hands over a record per turn
                else:
                    idle = 0
                    items.append(queue.get_nowait())
        except StopAsyncIteration:  # what Faust throws into the channel when it stops
            return
        events: list[EventT[Any]] = []
        for item in items:
            if not isinstance(item, EventT):
                continue  # not a record (a value sent to the channel in-process)
            message = item.message
            if not flow_control.is_active() or message.generation_id != app.consumer_generation_id:
                continue  # a rebalance began: not acked, so its seek reads the record again
            if message.topic in acking_topics and not message.tracked:
                message.tracked = True
                unacked.add(message)
            events.append(item)
        if not events:
            continue
        yield events  # in no event's context: a plain ``table[key] = v`` raises, not misroutes
        for event in events:
            event.ack()


def committed_offsets(app: Any) -> dict[TP, int | None]:
    """Per assigned partition, the next offset to read as this worker last committed it
    (or found it committed at assignment): Faust's ``Consumer._committed_offset``."""
    return dict(app.consumer._committed_offset)


async def request_rejoin(app: Any) -> None:
    """Make the group rebalance: aiokafka's coordinator rejoins, Faust revokes, reassigns,
    seeks to the committed offsets and fetches every assigned partition afresh. Runs in
    the consumer's thread (Faust's ``ConsumerThread.call_thread``)."""
    thread = app.consumer._thread
    await thread.call_thread(lambda: thread._ensure_consumer()._coordinator.request_rejoin())


async def pause_fetching(app: Any, tp: TP) -> None:
    """Stop fetching ``tp`` at aiokafka's level, behind Faust's back: what a stalled
    partition looks like (faust-streaming #629). For the reliability suite's fault."""
    from aiokafka import TopicPartition

    thread = app.consumer._thread
    partition = TopicPartition(tp.topic, tp.partition)
    await thread.call_thread(lambda: thread._ensure_consumer().pause(partition))


def seek_uncommitted_to_the_start() -> None:
    """Make Faust's "seek to committed offsets" rewind a stream partition with no commit.

    After a rebalance Faust drops the records it had fetched but not yet handed to an agent
    (flow stopped, generation changed) and relies on a seek back to the committed offset to
    read them again. aiokafka's ``seek_to_committed`` seeks only to a committed offset above
    0, so a partition whose previous owner died before its first commit stayed wherever
    the fetcher had got to: the records in between were never processed (the failover
    test lost up to 45 signals that way). With this, such a partition goes back to its
    first offset, which is what ``consumer_auto_offset_reset="earliest"`` promises (one
    the fetcher has no position for yet starts there anyway: no seek, which would cost a
    start-up about a second); changelog partitions are left to Faust's recovery, which
    seeks them itself.
    Patches ``AIOKafkaConsumerThread.seek_to_committed`` (used by ``Consumer.perform_seek``).
    """
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    original = AIOKafkaConsumerThread.seek_to_committed
    if getattr(original, "at_stream", False):
        return

    async def seek_to_committed(self: Any) -> Any:
        committed = await original(self)
        changelogs = self.app.tables.changelog_topics
        consumer = self._ensure_consumer()
        rewind = [
            tp
            for tp, offset in committed.items()
            if not offset and tp.topic not in changelogs and _position(consumer, tp)
        ]
        if rewind:
            log.info("no commit yet: reading from the start of %s", sorted(map(str, rewind)))
            await self.call_thread(consumer.seek_to_beginning, *rewind)
        return committed

    seek_to_committed.at_stream = True  # type: ignore[attr-defined]
    AIOKafkaConsumerThread.seek_to_committed = seek_to_committed  # type: ignore[method-assign]


def _position(consumer: Any, tp: Any) -> int:
    """aiokafka's fetch position of ``tp`` (0: none yet, so it resets to the start anyway).

    Reads ``AIOKafkaConsumer._subscription.subscription.assignment.state_value(tp)``.
    """
    subscription = consumer._subscription.subscription
    state = None if subscription is None else subscription.assignment.state_value(tp)
    return int(state.position) if state is not None and state.has_valid_position else 0


_last_rejoin: dict[int, float] = {}
_rejoins: set[asyncio.Task[None]] = set()
_head_gaps: dict[tuple[int, TP], tuple[int, int, float]] = {}
"""Per (app, partition): the committed offset a missing first record was seen at, how many
rebalances were asked for it, and since when (event loop time)."""
HEAD_GAP_GRACE = 2.0
"""Seconds a missing first record may stay missing (being read again) before a rebalance."""
HEAD_GAP_REJOINS = 3
"""Rebalances asked for a missing first record before it is taken as gone from the log."""


def committed_offset(app: Any, tp: TP) -> int | None:
    """The next offset to read of an assigned ``tp``, as this worker last committed it or
    found it committed at assignment (None: no commit): ``Consumer._committed_offset``."""
    offset = app.consumer._committed_offset.get(tp)
    return None if offset is None else int(offset)


def _ask_rejoin(app: Any) -> bool:
    """Ask the group to rebalance, at most every 5 s per app; True if asked now."""
    now = asyncio.get_running_loop().time()
    if now - _last_rejoin.get(id(app), -1e9) < 5.0:
        return False
    _last_rejoin[id(app)] = now
    task = asyncio.ensure_future(request_rejoin(app))
    _rejoins.add(task)
    task.add_done_callback(_rejoins.discard)
    return True


def refuse_gap_commits() -> None:
    """Never commit past a record an agent did not get; have it read again instead.

    Faust counts a jump in the offsets it hands an agent (offset N, then N+k) as a gap and
    acks the offsets in between, as if the broker had skipped them, which it does on a
    compacted or transactional topic. Our input topics are neither, so a jump means Faust
    dropped records it had fetched (around a rebalance or a seek), and acking them would
    commit past records whose effects were never produced: the failover test lost two in
    one run that way. Patched ``Consumer._add_gap``: it logs the range, acks nothing, and
    asks the group to rebalance (at most every 5 s), after which Faust seeks every
    partition to its committed offset, which is now below the gap, and the records come
    again; the effects marks stop below a gap too (``app.tables.effects``).

    Faust misses one gap: the record at the committed offset itself. After a seek its read
    offset is the committed one, so a first record one past it is no jump, and
    ``Consumer._new_offset`` commits over a missing head unless it is two records long
    (``min(acked) - committed > 1``: an off-by-one, the committed offset is the next one to
    read). The failover test lost single signals that way, about 1 run in 10. Patched
    ``_new_offset``: while the first acked offset is past the committed one, it commits
    nothing for that partition, as Faust does for a longer head gap; if that lasts
    ``HEAD_GAP_GRACE`` seconds (longer than a re-read after a seek takes) it asks for a
    rebalance. After ``HEAD_GAP_REJOINS`` of them the records are taken as gone from the
    log (deleted by retention) and committed over, with an error logged.
    """
    from faust.transport.consumer import Consumer

    original = Consumer._add_gap
    if getattr(original, "at_stream", False):
        return
    original_new_offset = Consumer._new_offset

    from app.metrics import CONSUMER_GAPS

    async def _add_gap(self: Any, tp: TP, offset_from: int, offset_to: int) -> None:
        if offset_from >= offset_to:
            return
        CONSUMER_GAPS.inc()
        log.warning(
            "records %d..%d of %s were not handed to its agent: not committing past them; "
            "asking for a rebalance to read them again",
            offset_from,
            offset_to - 1,
            tp,
        )
        _ask_rejoin(self.app)

    def _new_offset(self: Any, tp: TP) -> int | None:
        acked = self._acked[tp]
        committed = self._committed_offset[tp]
        key = (id(self.app), tp)
        if not acked or committed is None or min(acked) <= committed:
            _head_gaps.pop(key, None)
            return original_new_offset(self, tp)
        first, now = min(acked), asyncio.get_running_loop().time()
        seen, asked, since = _head_gaps.get(key, (None, 0, now))
        if seen != committed:  # new: give records in flight (a re-read after a seek) time
            _head_gaps[key] = (committed, 0, now)
            return None
        if asked >= HEAD_GAP_REJOINS:
            log.error(
                "records %d..%d of %s never came after %d rebalances: taken as gone from the "
                "log; committing past them",
                committed,
                first - 1,
                tp,
                asked,
            )
            _head_gaps.pop(key, None)
            self._committed_offset[tp] = first  # as if committed there: Faust goes on from it
            return original_new_offset(self, tp)
        if now - since >= HEAD_GAP_GRACE and _ask_rejoin(self.app):
            if not asked:
                CONSUMER_GAPS.inc()
            asked += 1
            log.warning(
                "records %d..%d of %s (from its committed offset) were not handed to its "
                "agent: not committing past them; asking for a rebalance to read them again",
                committed,
                first - 1,
                tp,
            )
        _head_gaps[key] = (committed, asked, since)
        return None

    _add_gap.at_stream = True  # type: ignore[attr-defined]
    Consumer._add_gap = _add_gap  # type: ignore[method-assign]
    Consumer._new_offset = _new_offset  # type: ignore[method-assign]


def hand_over_without_wait_first() -> None:
    """Hand each fetched record to its agent's channel with one await, not four tasks.

    Faust's ``Consumer._drain_messages`` awaits every record's delivery through
    ``Service.wait_first(callback(message), suspend_flow.wait())``: four tasks and an
    ``asyncio.wait`` per record, so that a rebalance can interrupt a delivery blocked on a
    full channel. That is most of the ~125 us Faust spends to hand an agent one record.
    Patched: the delivery is awaited directly; a rebalance is noticed before each record
    and after it. A record delivered across a rebalance leaves the read offset as the
    rebalance's seek set it (it comes again from the committed offset; the agents drop a
    record of an older consumer generation, ``batches``). Everything else is Faust's loop
    as it is: the read offset check, the gap (``refuse_gap_commits``), ``commit_every``,
    a loop turn every 100 records. The Fetcher cancels this task when it stops, which
    also ends a delivery blocked on a full channel.
    Patches ``Consumer._drain_messages``.
    """
    from faust.transport.consumer import CONSUMER_FETCHING, Consumer

    original = Consumer._drain_messages
    if getattr(original, "at_stream", False):
        return

    async def _drain_messages(self: Any, fetcher: Any) -> None:
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        read_offset = self._read_offset
        set_flag, unset_flag = self.diag.set_flag, self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        suspended = self.suspend_flow.is_set
        app = self.app
        since_yield = 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                ait = getmany(timeout=1.0)
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in ait:
                        since_yield += 1
                        if since_yield > 100:
                            await asyncio.sleep(0)
                            since_yield = 0
                        offset = message.offset
                        r_offset = read_offset[tp]
                        if r_offset is not None and offset < r_offset:
                            continue  # read before (Faust logs these at dev level)
                        if r_offset and offset - r_offset > 1 and acks_enabled_for(tp.topic):
                            await self._add_gap(tp, r_offset + 1, offset)
                        if commit_every is not None and self._n_acked >= commit_every:
                            self._n_acked = 0
                            await self.commit()
                        if suspended():
                            break  # a rebalance began: its seek reads this record again
                        generation = app.consumer_generation_id
                        await callback(message)
                        if suspended() or app.consumer_generation_id != generation:
                            break  # across a rebalance: the read offset is its seek's
                        read_offset[tp] = offset
                    unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)

    _drain_messages.at_stream = True  # type: ignore[attr-defined]
    Consumer._drain_messages = _drain_messages  # type: ignore[method-assign]

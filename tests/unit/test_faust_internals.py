"""What ``app.faust_internals`` relies on in Faust is still there and does what we use.

A Faust upgrade that renames or moves one of these fails here, not in production.
"""

from __future__ import annotations

import asyncio
import contextvars
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.events import Event
from faust.streams import current_event
from faust.transport.conductor import Conductor
from faust.transport.consumer import Consumer
from faust.types import TP, Message
from faust.types.tuples import ConsumerMessage
from mode.utils.queues import FlowControlEvent, ThrowableQueue

from app import faust_internals
from app.settings import Settings
from app.tables import raw_table, size_estimate


def test_the_names_used_are_there() -> None:
    from faust.stores.rocksdb import Store

    for name in ("_db_for_partition", "set_persisted_offset", "persisted_offset"):
        assert callable(getattr(Store, name)), name
    assert isinstance(faust.streams._current_event, contextvars.ContextVar)
    from faust.assignor.partition_assignor import PartitionAssignor

    assert "_tps_url" in PartitionAssignor.__init__.__code__.co_names  # owner_url reads it
    assert {"tracked", "generation_id", "acked", "refcount"} <= set(Message.__slots__)
    assert isinstance(Consumer.unacked, property)
    assert isinstance(Conductor.acking_topics, property)
    assert hasattr(faust.App, "consumer_generation_id") and hasattr(faust.App, "flow_control")
    for name in ("get", "get_nowait", "empty"):
        assert callable(getattr(ThrowableQueue, name)), name
    assert callable(Consumer.assignment)  # assigned_partitions (the venue poller)
    from faust.transport.drivers.aiokafka import Producer

    assert callable(Producer._ensure_producer)  # kafka_producer (app.outbox)


@pytest.fixture
def table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("API_KEY_HMAC_SECRET", "unit-test-secret")
    app = faust.App("internals-test", store="rocksdb://", datadir=str(tmp_path), autodiscover=False)
    settings = Settings(topic_partitions=2)
    return raw_table(app, "things", settings, "test table")


def test_partition_writes_and_the_persisted_offset(table: Any) -> None:
    faust_internals.partition_db(table, 1).put(b"k", b"v")
    faust_internals.note_partition(table, b"k", 1)
    assert table.data._key_index[b"k"] == 1
    assert faust_internals.partition_db(table, 0).get(b"k") is None
    assert table.data.get(b"k") == b"v"  # outside an event: found through the key index
    faust_internals.note_partition(table, b"k", None)
    assert b"k" not in table.data._key_index
    faust_internals.set_persisted_offset(table, 1, 41)
    topic = table.changelog_topic.get_topic_name()
    assert table.data.persisted_offset(TP(topic, 1)) == 41
    assert table.data.persisted_offset(TP(topic, 0)) is None
    assert len(faust_internals.open_dbs(table)) == 2  # both partitions were opened
    assert size_estimate(table) >= 0
    faust_internals.close_store_dbs(table.data)
    assert not table.data._dbs


def _event(app: Any, partition: int, offset: int, generation: int = 1) -> Event:
    message = ConsumerMessage(
        "t", partition, offset, 0.0, 0, None, b"k", b"v", None, generation_id=generation
    )
    return Event(app, b"k", b"v", None, message)


def test_in_event_is_faust_current_event() -> None:
    event = _event(None, 3, 9)
    assert current_event() is None
    with faust_internals.in_event(event):
        assert current_event() is event
    assert current_event() is None


def test_generations_are_faust_message_and_app_generation_ids() -> None:
    assert faust_internals.generation_of(_event(None, 0, 1, generation=7)) == 7
    assert faust_internals.current_generation(SimpleNamespace(consumer_generation_id=8)) == 8
    app = faust.App("at-stream-generation-test")
    assert faust_internals.current_generation(app) == app.consumer_generation_id


def _fake_stream(queue: ThrowableQueue[Any], generation: int = 1) -> Any:
    unacked: set[Message] = set()

    def ack(message: Message) -> bool:  # what Faust's Consumer.ack does with them
        message.acked = True
        unacked.discard(message)
        return True

    consumer = SimpleNamespace(unacked=unacked, ack=ack)
    app = SimpleNamespace(
        consumer=consumer,
        topics=SimpleNamespace(acking_topics={"t"}),
        flow_control=SimpleNamespace(is_active=lambda: True),
        consumer_generation_id=generation,
    )

    async def maybe_start() -> None:
        return None

    return SimpleNamespace(
        app=app, channel=SimpleNamespace(queue=queue), should_stop=False, maybe_start=maybe_start
    )


def test_batches_take_what_is_there_and_ack_only_on_the_next_take() -> None:
    async def run() -> None:
        queue: ThrowableQueue[Any] = ThrowableQueue(flow_control=FlowControlEvent())
        stream = _fake_stream(queue)
        events = [_event(stream.app, 0, n) for n in range(5)]
        stale = _event(stream.app, 0, 5, generation=0)  # from before a rebalance
        for event in [*events[:3], stale]:
            event.message.incref()
            queue.put_nowait(event)
        taken = faust_internals.batches(stream, max_records=2)
        first = await taken.__anext__()
        assert first == events[:2]
        assert all(e.message.tracked and not e.message.acked for e in first)
        assert stream.app.consumer.unacked == {e.message for e in first}
        second = await taken.__anext__()  # acks the first batch, then takes the rest
        assert all(e.message.acked for e in first) and not stream.app.consumer.unacked - {
            events[2].message
        }
        # the stale record is dropped and NOT acked: acked, Faust's commit on the revoke
        # would pass it, and the seek after the rebalance would not read it again
        assert second == [events[2]] and not stale.message.acked and not events[2].message.acked
        for event in events[3:]:
            event.message.incref()
            queue.put_nowait(event)
        assert await taken.__anext__() == events[3:]
        await taken.aclose()  # the caller gave up (it raised): not acknowledged
        assert not any(e.message.acked for e in events[3:])

        # taken while a rebalance is under way (flow stopped), same generation: dropped
        # and not acked either
        active = [False]
        stream.app.flow_control = SimpleNamespace(is_active=lambda: active[0])
        during = [_event(stream.app, 0, n) for n in (6, 7)]
        for event in during:
            event.message.incref()
            queue.put_nowait(event)
        taken = faust_internals.batches(stream, max_records=10)
        waiting = asyncio.ensure_future(taken.__anext__())
        await asyncio.sleep(0.05)
        assert not waiting.done()  # nothing to hand over
        assert not any(e.message.acked or e.message.tracked for e in during)
        waiting.cancel()

    asyncio.run(run())


def test_batches_end_when_faust_stops_the_channel() -> None:
    async def run() -> list[list[Any]]:
        queue: ThrowableQueue[Any] = ThrowableQueue(flow_control=FlowControlEvent())
        stream = _fake_stream(queue)
        event = _event(stream.app, 0, 0)
        event.message.incref()
        queue.put_nowait(event)
        taken = [batch async for batch in _until_stopped(stream, queue)]
        return taken

    async def _until_stopped(stream: Any, queue: ThrowableQueue[Any]) -> Any:
        async for batch in faust_internals.batches(stream, max_records=10):
            yield batch
            await queue.throw(StopAsyncIteration())  # what Faust does on stop

    assert len(asyncio.run(run())) == 1


def test_aiokafka_rebalances_when_a_subscribed_topic_appears() -> None:
    """app.main refreshes consumer metadata every 10 s so a topic missing from the first
    join's metadata (created by the worker a moment before) gets its partitions assigned:
    that relies on aiokafka's coordinator rejoining when a metadata refresh changes the
    subscribed topics' partitions."""
    import ast
    from pathlib import Path

    from aiokafka.consumer.group_coordinator import GroupCoordinator

    import app as package

    main = ast.parse((Path(package.__file__).parent / "main.py").read_text())
    given = {
        kw.arg: ast.literal_eval(kw.value)
        for node in ast.walk(main)
        if isinstance(node, ast.Call)
        for kw in node.keywords
        if kw.arg == "consumer_metadata_max_age_ms"
    }
    assert given == {"consumer_metadata_max_age_ms": 10_000}
    assert callable(GroupCoordinator._handle_metadata_update)
    assert callable(GroupCoordinator._get_metadata_snapshot)
    assert callable(GroupCoordinator._on_metadata_change)


def test_the_watchdog_s_names_are_there() -> None:
    """app.watchdog reads Faust's committed offsets and asks aiokafka for a rejoin."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.consumer.group_coordinator import GroupCoordinator
    from faust.transport.consumer import Consumer
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
    from mode.threads import QueueServiceThread

    assert "_committed_offset" in Consumer.__annotations__
    assert callable(AIOKafkaConsumerThread._ensure_consumer)
    assert issubclass(AIOKafkaConsumerThread, QueueServiceThread)
    assert callable(QueueServiceThread.call_thread)
    assert callable(GroupCoordinator.request_rejoin)
    assert callable(AIOKafkaConsumer.pause)


def test_a_partition_never_committed_is_read_from_its_start_after_a_seek() -> None:
    """Faust's ``perform_seek`` (after every recovery, and when it dropped fetched records)
    seeks to the committed offsets through ``AIOKafkaConsumerThread.seek_to_committed``;
    aiokafka seeks only to a commit above 0, so a stream partition its dead owner never
    committed stayed past records nobody processed. The patch rewinds those (not the
    changelogs, which Faust's recovery seeks itself)."""
    import inspect

    from aiokafka import AIOKafkaConsumer, TopicPartition
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    # what the patch relies on
    assert "perform_seek" in Consumer.__dict__
    assert "seek_to_committed" in inspect.getsource(Consumer.perform_seek)
    assert "offset > 0" in inspect.getsource(AIOKafkaConsumer.seek_to_committed)
    assert callable(AIOKafkaConsumer.seek_to_beginning)
    assert isinstance(faust.App("x", autodiscover=False).tables.changelog_topics, set)

    faust_internals.seek_uncommitted_to_the_start()
    faust_internals.seek_uncommitted_to_the_start()  # once only, however often called
    patched: Any = AIOKafkaConsumerThread.seek_to_committed
    assert getattr(patched, "at_stream", False)

    never, zero, some, fresh = (TopicPartition("signals", p) for p in range(4))
    changelog = TopicPartition("app-positions-changelog", 0)
    positions = {never: 12, zero: 5, some: 9, changelog: 3}  # fresh: no position yet
    rewound: list[Any] = []

    class FakeAIOKafka:
        _subscription = SimpleNamespace(
            subscription=SimpleNamespace(
                assignment=SimpleNamespace(
                    state_value=lambda tp: SimpleNamespace(
                        has_valid_position=tp in positions, position=positions.get(tp)
                    )
                )
            )
        )

        async def seek_to_committed(self) -> dict[Any, int | None]:
            return {never: None, zero: 0, some: 7, fresh: None, changelog: None}

        async def seek_to_beginning(self, *tps: Any) -> None:
            rewound.extend(tps)

    fake = FakeAIOKafka()
    thread = SimpleNamespace(
        app=SimpleNamespace(tables=SimpleNamespace(changelog_topics={changelog.topic})),
        _ensure_consumer=lambda: fake,
        call_thread=lambda fun, *args: fun(*args),
    )
    committed = asyncio.run(patched(thread))
    assert committed == {never: None, zero: 0, some: 7, fresh: None, changelog: None}
    assert rewound == [never, zero]  # moved past its start with no commit: back to it


def test_aiokafka_s_fetch_position_is_where_faust_internals_reads_it() -> None:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.consumer.subscription_state import (
        Assignment,
        SubscriptionState,
        TopicPartitionState,
    )

    assert "_subscription" in AIOKafkaConsumer.__init__.__code__.co_names
    assert isinstance(SubscriptionState.subscription, property)
    assert callable(Assignment.state_value)
    assert isinstance(TopicPartitionState.has_valid_position, property)
    assert isinstance(TopicPartitionState.position, property)


def test_a_gap_in_the_offsets_is_not_acked_but_read_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Faust acks the offsets an agent never got (``Consumer._add_gap``, called by
    ``_drain_messages`` when offsets jump); patched, it acks nothing and asks for a
    rebalance, so the committed offset stays below the gap and the records come again."""
    import inspect

    assert "_add_gap" in inspect.getsource(__import__("faust.transport.consumer", fromlist=["x"]))
    assert "_gap" in inspect.getsource(Consumer._new_offset)
    faust_internals.refuse_gap_commits()
    faust_internals.refuse_gap_commits()
    assert getattr(Consumer._add_gap, "at_stream", False)
    rejoins: list[Any] = []

    async def rejoin(app: Any) -> None:
        rejoins.append(app)

    monkeypatch.setattr(faust_internals, "request_rejoin", rejoin)
    gaps: dict[Any, Any] = {}
    consumer = SimpleNamespace(app=SimpleNamespace(), _gap=gaps, _committed_offset={})
    add_gap: Any = Consumer._add_gap

    async def run() -> None:
        await add_gap(consumer, TP("signals", 0), 9, 11)
        await add_gap(consumer, TP("signals", 0), 14, 16)  # within 5 s: no second rebalance
        await asyncio.sleep(0)

    from app.metrics import CONSUMER_GAPS

    before = CONSUMER_GAPS._value.get()
    asyncio.run(run())
    assert gaps == {}  # nothing acked
    assert rejoins == [consumer.app]
    assert CONSUMER_GAPS._value.get() == before + 2  # each counted


def test_a_missing_record_at_the_committed_offset_is_not_committed_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After a seek Faust's read offset is the committed one, so a first record one past it
    is no gap to Faust, and its ``_new_offset`` commits over a head gap of one record (it
    checks ``min(acked) - committed > 1``). Patched: nothing is committed for the
    partition; a head gap that lasts ``HEAD_GAP_GRACE`` seconds asks for a rebalance; after
    ``HEAD_GAP_REJOINS`` of them the records are taken as gone (retention)."""
    import inspect

    import faust.transport.consumer as consumer_module

    source = inspect.getsource(consumer_module)  # Faust's own (_drain_messages may be patched)
    assert "r_offset + 1" in source and "gap > 1" in source  # the head escapes gap detection
    faust_internals.refuse_gap_commits()
    assert "_new_offset" in Consumer.__dict__
    rejoins: list[Any] = []

    async def rejoin(app: Any) -> None:
        rejoins.append(app)

    monkeypatch.setattr(faust_internals, "request_rejoin", rejoin)
    monkeypatch.setattr(faust_internals, "_last_rejoin", {})
    monkeypatch.setattr(faust_internals, "HEAD_GAP_GRACE", 0.0)
    tp = TP("signals", 3)
    consumer: Any = SimpleNamespace(
        app=SimpleNamespace(),
        _acked={tp: [11, 12, 13]},
        _acked_index={tp: {11, 12, 13}},
        _committed_offset={tp: 10},
        _gap={tp: []},
    )
    new_offset: Any = Consumer._new_offset

    async def run() -> list[int | None]:
        results = [new_offset(consumer, tp)]  # first seen: a grace period, nothing asked
        results.append(new_offset(consumer, tp))  # still missing: a rebalance is asked
        await asyncio.sleep(0)
        return results

    assert asyncio.run(run()) == [None, None]
    assert rejoins == [consumer.app]
    consumer._acked[tp] = [10, 11, 12, 13]  # it came again and was handled
    consumer._acked_index[tp] = {10, 11, 12, 13}
    assert asyncio.run(_call(new_offset, consumer, tp)) == 14

    # retention deleted 10..11: after HEAD_GAP_REJOINS rebalances, committed over
    consumer._acked[tp], consumer._acked_index[tp] = [12, 13], {12, 13}
    consumer._committed_offset[tp] = 10

    async def until_committed() -> list[int | None]:
        results: list[int | None] = []
        for _ in range(faust_internals.HEAD_GAP_REJOINS + 2):
            faust_internals._last_rejoin.clear()  # no 5 s wait between rebalances here
            results.append(new_offset(consumer, tp))
            await asyncio.sleep(0)
        return results

    results = asyncio.run(until_committed())
    assert results[:-1] == [None] * (faust_internals.HEAD_GAP_REJOINS + 1)
    assert results[-1] == 14


async def _call(fun: Any, *args: Any) -> Any:
    return fun(*args)


def test_records_are_handed_over_with_one_await_and_a_rebalance_stops_the_loop() -> None:
    """``hand_over_without_wait_first`` replaces Faust's ``_drain_messages``: the same loop
    (read offset, gaps, commit_every) with the delivery awaited directly. A rebalance that
    begins during a delivery ends the loop without moving the read offset past its seek."""
    import inspect

    import faust.transport.consumer as consumer_module

    source = inspect.getsource(consumer_module)  # Faust's own, as installed
    assert "callback(message), self.suspend_flow.wait()" in source
    assert "CONSUMER_FETCHING" in dir(consumer_module)
    for name in ("_read_offset", "suspend_flow", "_commit_every", "_n_acked", "diag"):
        assert f"self.{name}" in source, name
    assert "consumer_stopped_errors" in dir(Consumer)
    faust_internals.hand_over_without_wait_first()
    faust_internals.hand_over_without_wait_first()
    drain: Any = Consumer._drain_messages
    assert getattr(drain, "at_stream", False)

    tp = TP("signals", 0)
    handed: list[int] = []
    gaps: list[tuple[int, int]] = []

    async def run() -> dict[TP, int | None]:
        stopped, fetcher_stopped, suspend = asyncio.Event(), asyncio.Event(), asyncio.Event()
        app = SimpleNamespace(
            consumer_generation_id=1,
            topics=SimpleNamespace(acks_enabled_for=lambda topic: True),
        )
        batches = [[5, 6, 4, 9, 10], [11, 12, 13]]  # 4: read before; 9: 7..8 never came

        async def getmany(timeout: float) -> Any:
            for offset in batches.pop(0) if batches else []:
                yield tp, SimpleNamespace(offset=offset, topic=tp.topic)
            if not batches:
                fetcher_stopped.set()

        async def callback(message: Any) -> None:
            handed.append(message.offset)
            if message.offset == 12:  # a rebalance begins while 12 is delivered
                suspend.set()
                app.consumer_generation_id = 2

        async def add_gap(tp: TP, start: int, end: int) -> None:
            gaps.append((start, end))

        async def sleep(seconds: float) -> None:
            await asyncio.sleep(seconds)

        read_offset: dict[TP, int | None] = {tp: 5}
        consumer = SimpleNamespace(
            callback=callback,
            getmany=getmany,
            _stopped=stopped,
            _read_offset=read_offset,
            diag=SimpleNamespace(set_flag=lambda flag: None, unset_flag=lambda flag: None),
            _commit_every=None,
            app=app,
            suspend_flow=suspend,
            sleep=sleep,
            should_stop=False,
            _add_gap=add_gap,
            consumer_stopped_errors=(),
        )
        await drain(consumer, SimpleNamespace(_stopped=fetcher_stopped))
        return read_offset

    read_offset = asyncio.run(run())
    assert handed == [5, 6, 9, 10, 11, 12]  # 4 skipped; 13 not handed after the rebalance
    assert gaps == [(7, 9)]
    assert read_offset[tp] == 11  # not 12: the seek of the rebalance says where to read

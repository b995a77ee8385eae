"""The Faust sensors the worker exports: what Faust's PrometheusMonitor exports, cheaper."""

from __future__ import annotations

from typing import Any

from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP
from faust.types.tuples import ConsumerMessage
from prometheus_client import CollectorRegistry

from app.sensors import SeriesCachingMonitor


def _message(tp: TP, offset: int) -> ConsumerMessage:
    return ConsumerMessage(tp.topic, tp.partition, offset, 0.0, 0, None, b"k", b"v", None)


def _run(monitor_cls: type[PrometheusMonitor]) -> tuple[Any, dict[Any, float]]:
    registry = CollectorRegistry()
    monitor = monitor_cls(metrics=FaustMetrics.create(registry, "faust"))
    calls = [(TP("signals", 0), 5), (TP("signals", 1), 7), (TP("orders", 0), 2)]
    for tp, offset in calls * 2 + [(TP("signals", 0), 9)]:
        message = _message(tp, offset)
        monitor.track_tp_end_offset(tp, offset + 10)
        monitor.on_message_in(tp, offset, message)
        monitor.on_message_out(tp, offset, message)
        assert message.time_in is not None and message.time_total is not None
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in registry.collect()
        for s in family.samples
        if not s.name.endswith("_created")
    }
    return monitor, samples


def test_it_exports_what_faust_prometheus_monitor_exports() -> None:
    """Fails when a Faust upgrade changes what PrometheusMonitor's per-record hooks do."""
    ours, our_samples = _run(SeriesCachingMonitor)
    theirs, their_samples = _run(PrometheusMonitor)
    assert our_samples == their_samples
    assert our_samples[("faust_messages_received_total", ())] == 7
    for name in (
        "messages_received_total",
        "messages_active",
        "messages_received_by_topic",
        "tp_read_offsets",
        "tp_end_offsets",
    ):
        assert getattr(ours, name) == getattr(theirs, name), name

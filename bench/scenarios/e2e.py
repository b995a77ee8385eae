"""Scenarios 2 and 4: end-to-end latency at constant rates, and resources meanwhile.

Open loop: request ``i`` is due at ``i / rate`` whatever happened before. The figure is
webhook-received to fill-produced, from the records: the Signal's ``received_at`` against
the fill record's Kafka timestamp (CreateTime, set by the worker's producer, ms). Fills are
matched to signals by ``signal_id``. Also reported: intended-send to fill (what a client
saw, queueing in front of the webhook included) and the HTTP answer time from the
intended send time.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import Any

import orjson

from bench import resources
from bench.kafka_io import KafkaRecord, Offsets, read_records
from bench.load import Sent, open_loop
from bench.payloads import presign
from bench.scenarios import Context
from bench.stats import summary_ms

log = logging.getLogger(__name__)


def _by_signal_id(records: list[KafkaRecord]) -> dict[str, KafkaRecord]:
    out: dict[str, KafkaRecord] = {}
    for r in records:
        if r.value is not None:
            out[orjson.loads(r.value)["signal_id"]] = r
    return out


def latencies(
    sent: list[Sent], signals: list[KafkaRecord], fills: list[KafkaRecord]
) -> dict[str, Any]:
    """The three latency summaries of one rate, from the records and the client's log."""
    received = {
        sid: datetime.fromisoformat(orjson.loads(r.value)["received_at"]).timestamp()
        for sid, r in _by_signal_id(signals).items()
        if r.value is not None
    }
    fill_ts = {sid: r.timestamp / 1000.0 for sid, r in _by_signal_id(fills).items()}
    record_based: list[float] = []
    client_based: list[float] = []
    for s in sent:
        if s.signal_id is None or s.signal_id not in fill_ts:
            continue
        done = fill_ts[s.signal_id]
        if s.signal_id in received:
            record_based.append(max(0.0, done - received[s.signal_id]))
        client_based.append(max(0.0, done - s.intended))
    http = [s.latency for s in sent if s.status.startswith("2")]
    return {
        "received_to_fill_ms": summary_ms(record_based),
        "intended_to_fill_ms": summary_ms(client_based),
        "http_answer_ms": summary_ms(http),
        "fills_matched": len(client_based),
    }


def per_second(times: list[float], start: float) -> list[int]:
    """How many of ``times`` fall in each whole second after ``start``."""
    counts: list[int] = []
    for t in times:
        i = max(0, int(t - start))
        if i >= len(counts):
            counts.extend([0] * (i + 1 - len(counts)))
        counts[i] += 1
    return counts


async def _rate(ctx: Context, offsets: Offsets, rate: int) -> dict[str, Any]:
    main = await ctx.ensure_main()
    topics = main.topics
    seconds = ctx.mode.e2e_seconds
    requests = presign(f"{ctx.run_id}e{rate}", int(rate * seconds))
    start_signals = await offsets.ends(topics["signals"])
    start_fills = await offsets.ends(topics["fills"])
    pids = {"worker": main.pid, "bench_client": os.getpid()}
    if ctx.stack.broker_pid is not None:
        pids["broker"] = ctx.stack.broker_pid
    cpu0 = resources.cpu_seconds(main.pid) if resources.available() else None
    with resources.Sampler(pids) as sampler:
        loop = await open_loop(main.url + "/webhook/signals", requests, rate)
        sent = loop.sent
        accepted = sum(1 for s in sent if s.signal_id)
        want = sum(start_fills.values()) + accepted
        # the agents may lag far behind the webhook: give them time to finish (>= 400/s)
        drain = min(300.0, max(60.0, 30.0 + accepted / 400.0))
        got = await offsets.wait_total(topics["fills"], want, timeout=drain)
    cpu = None if cpu0 is None else resources.cpu_seconds(main.pid) - cpu0
    signals = await read_records(ctx.bootstrap, topics["signals"], start_signals, accepted)
    fills = await read_records(ctx.bootstrap, topics["fills"], start_fills, accepted)
    statuses: dict[str, int] = {}
    for s in sent:
        statuses[s.status] = statuses.get(s.status, 0) + 1
    result: dict[str, Any] = {
        "rate": rate,
        "seconds": seconds,
        "offered": loop.offered,
        "sent": len(sent),
        "saturated": loop.stopped_early,
        "accepted": accepted,
        "statuses": statuses,
        "drained": got >= want,
        **latencies(sent, signals, fills),
        "rss": sampler.summary(),
        "worker_cpu_seconds": None if cpu is None else round(cpu, 3),
        "cpu_s_per_1000_signals": None
        if cpu is None or not accepted
        else round(cpu / accepted * 1000, 4),
        "fills_per_s": per_second([r.timestamp / 1000.0 for r in fills], sent[0].intended)
        if sent
        else [],
    }
    lat = result["received_to_fill_ms"]
    ctx.progress(
        "e2e",
        f"{rate:5d}/s  accepted {accepted}/{len(sent)}/{loop.offered}"
        f"{' SATURATED' if loop.stopped_early else ''}  received->fill p50 "
        f"{lat.get('p50', float('nan')):.1f} p99 {lat.get('p99', float('nan')):.1f} "
        f"max {lat.get('max', float('nan')):.1f} ms  cpu/1k {result['cpu_s_per_1000_signals']}",
    )
    return result


def _resources(rates: list[dict[str, Any]]) -> dict[str, Any]:
    """Scenario 4 from the samples taken during scenario 2."""
    if not resources.available():
        return {"status": "not measured", "reason": "psutil is not installed"}

    def peak(label: str) -> float | None:
        values = [r["rss"][label]["max_mb"] for r in rates if label in r["rss"]]
        return max(values) if values else None

    return {
        "status": "measured",
        "worker_rss_max_mb": peak("worker"),
        "broker_rss_max_mb": peak("broker"),
        "bench_client_rss_max_mb": peak("bench_client"),
        "python_processes_rss_max_mb": peak("worker"),  # the at-stream processes: one worker
        "cpu_s_per_1000_signals": {str(r["rate"]): r["cpu_s_per_1000_signals"] for r in rates},
    }


async def run(ctx: Context) -> tuple[dict[str, Any], dict[str, Any]]:
    """(scenario 2 results, scenario 4 results)."""
    rates: list[dict[str, Any]] = []
    async with Offsets(ctx.bootstrap) as offsets:
        for rate in ctx.mode.e2e_rates:
            rates.append(await _rate(ctx, offsets, rate))
    return {"status": "measured", "rates": rates}, _resources(rates)

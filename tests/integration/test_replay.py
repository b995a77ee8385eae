"""Replay from offsets: reset the group, rebuild the tables, get the same positions."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable

import aiohttp

from tests.integration.support import (
    ROOT,
    Worker,
    end_offsets,
    fills_applied,
    post_signal,
    read_topic,
    signal_body,
    wait_for,
)

N = 30


def reset(worker: Worker, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "reset", *args],
        env={**worker.env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_full_replay_rebuilds_identical_positions(
    start_worker: Callable[..., Worker],
) -> None:
    worker = start_worker()
    await worker.wait_ready()
    async with aiohttp.ClientSession() as http:
        for i in range(N):
            side, price = ("sell", str(100 + i)) if i % 3 == 2 else ("buy", str(90 + i))
            body = signal_body(
                account=f"rp-{i % 3}", side=side, price=price, quantity=str(1 + i % 4),
                strategy=f"s{i}",
            )  # fmt: skip
            await post_signal(http, worker, body)
        await wait_for(
            http,
            worker.url + "/positions",
            lambda b: fills_applied(b) == N,
        )
        async with http.get(worker.url + "/positions") as r:
            before = await r.read()

        running = reset(worker, "--to-earliest", "--execute", "--no-wait")
        assert running.returncode == 2 and "active member" in running.stderr

        worker.stop()
        dry = reset(worker, "--to-earliest")
        assert dry.returncode == 0 and "dry run" in dry.stdout
        assert "record(s) to process again" in dry.stdout
        some = ("--topic", worker.topics["orders"], "--topic", f"{worker.topics['fills']}:0")
        part = reset(worker, "--to-earliest", "--execute", *some)
        assert part.returncode == 2, part.stderr
        assert f"{worker.topics['fills']}' rebuilds: select partition(s) 1, 2, 3 too" in part.stderr
        assert "deleted" not in part.stdout  # refused before anything changed
        topics = [worker.topics[t] for t in ("orders", "fills")]
        ends = {t: await end_offsets(worker.bootstrap, t) for t in topics}

        following = subprocess.Popen(  # noqa: ASYNC220 - Popen returns at once
            [sys.executable, "-m", "app.cli", "reset", "--to-earliest", "--execute",
             "--wait-timeout", "90", "--data-dir", worker.env["AT_STREAM_DATA_DIR"]],
            env={**worker.env, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            assert following.stdout is not None
            lines: list[str] = []
            while not lines or "start the workers" not in lines[-1]:
                line = await asyncio.to_thread(following.stdout.readline)
                assert line, following.stderr.read() if following.stderr else ""
                lines.append(line)
            worker.start()
            out, err = await asyncio.to_thread(following.communicate, timeout=100)
        finally:
            following.kill()
        printed = "".join(lines) + out
        assert following.returncode == 0, err
        assert "positions-changelog" in printed and "positions-0.db" in printed
        assert f"positions rebuilt from {N} fill record(s)" in printed  # by the reset itself
        assert "rebuild [########################################]" in err  # done: 100%
        await worker.wait_ready()
        await wait_for(
            http,
            worker.url + "/positions",
            lambda b: fills_applied(b) == N,
            timeout=60,
        )
        await asyncio.sleep(2)  # anything the replay would still apply twice shows now
        async with http.get(worker.url + "/positions") as r:
            after = await r.read()
    assert after == before
    # The effects ledger knew the orders and fills were out: the replay rebuilt the tables
    # and produced nothing again. (Its marks trail by what was acknowledged in the last
    # WRITE_INTERVAL; the worker ran idle longer than that before it stopped.)
    for topic, id_field in zip(topics, ("order_id", "fill_id"), strict=True):
        records = await read_topic(worker.bootstrap, topic, 10**9, timeout=5)
        ids = [json.loads(r.value)[id_field] for r in records]
        assert len(records) == sum((await end_offsets(worker.bootstrap, topic)).values())
        assert sum(ends[topic].values()) == N and len(ids) == len(set(ids)) == N

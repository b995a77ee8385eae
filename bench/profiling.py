"""Where the worker's CPU goes per signal: py-spy on the worker under load.

Two passes, each a py-spy recording (100 Hz, active threads only, so the sample shares
approximate CPU time) over a window in which the worker's CPU seconds and the signals it
handled are known:

- ``webhook``: closed-loop HTTP load at concurrency 8 on the main worker (the webhook
  and every agent run in the one process);
- ``agents``: the chain worker once caught up (steady state: full positions windows),
  or else a fresh worker, processing signals produced straight to its topic.

Each function's cost per signal = its share of samples x worker CPU s / signals.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bench import resources
from bench.kafka_io import Offsets, preload
from bench.load import closed_loop
from bench.payloads import presign, signal_records
from bench.scenarios import Context, not_measured
from bench.stack import ROOT, WorkerProc, unique

log = logging.getLogger(__name__)

DEFAULT_SECONDS = 8.0  # when --profile is asked for in a mode that does not profile
FRAME = re.compile(r"^(?P<func>.*) \((?P<path>.*?)(?::(?P<line>\d+))?\)$")


def py_spy() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


def short_path(path: str) -> str:
    for marker in ("site-packages/", "lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    root = str(ROOT) + "/"
    return path.removeprefix(root)


PLUMBING = ("asyncio/", "selectors.py", "threading.py", "<frozen", "click/", "concurrent/",
            "mode/services.py", "mode/worker.py", "mode/threads.py", "mode/utils/",
            "faust/cli/", "app/cli.py", "runpy")  # fmt: skip


ROOTS = frozenset({"App.main", "Worker.execute_from_commandline"})


def plumbing(path: str) -> bool:
    """Frames every stack passes through (event loop, CLI, service wrappers)."""
    short = short_path(path)
    return not path or any(short.startswith(p) or p in path for p in PLUMBING)


def package_of(path: str) -> str:
    short = short_path(path)
    head = short.split("/", 1)[0]
    return head.removesuffix(".py") or short


def parse(raw: str) -> list[tuple[list[tuple[str, str]], int]]:
    """py-spy ``--format raw`` lines -> [(frames root-first as (func, path), count)]."""
    stacks = []
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = []
        for part in stack.split(";"):
            m = FRAME.match(part)
            frames.append((m["func"], m["path"]) if m else (part, ""))
        stacks.append((frames, int(count)))
    return stacks


# What a sample is spent on: the innermost frame that matches a rule decides (event-loop
# frames are skipped on the way up; a sample nothing claims is the event loop's own).
ACTIVITIES = (
    ("pydantic: JSON decode/encode, validation", ("pydantic/", "pydantic_core")),
    ("Faust RocksDB table stores", ("faust/stores/", "rocksdict")),
    (
        "produce path: Faust send, aiokafka producer",
        ("aiokafka/producer/", "faust/transport/producer.py", "faust/topics.py",
         "faust/channels.py", "faust/types/tuples.py", "faust/tables/base.py"),
    ),
    (
        "consume path: aiokafka fetcher, Faust consumer/stream",
        ("aiokafka/consumer/", "faust/transport/consumer.py", "faust/streams.py",
         "faust/transport/conductor.py", "faust/agents/"),
    ),
    ("HTTP: aiohttp, Faust web", ("aiohttp/", "faust/web/")),
    ("logging", ("logging/",)),
    ("app code", ("app/",)),
)  # fmt: skip


def activity(frames: list[tuple[str, str]]) -> str:
    for _, path in reversed(frames):
        short = short_path(path)
        for label, prefixes in ACTIVITIES:
            if short.startswith(prefixes):
                return label
    return "event loop and other"


def summarise(raw: str, cpu_s: float, signals: int, top: int = 15) -> dict[str, Any]:
    stacks = parse(raw)
    total = sum(n for _, n in stacks) or 1
    per_signal_us = cpu_s / signals * 1e6 if signals else 0.0
    self_: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    pkg: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    activities: Counter[str] = Counter()
    for frames, n in stacks:
        activities[activity(frames)] += n
        names = [f"{func} ({short_path(path)})" for func, path in frames]
        if names:
            self_[names[-1]] += n
            pkg[package_of(frames[-1][1])] += n
            threads["other threads" if "threading" in frames[0][1] else "main thread"] += n
        kept = {
            nm
            for nm, (func, path) in zip(names, frames, strict=True)
            if not plumbing(path) and func not in ROOTS
        }
        for name in kept:
            incl[name] += n

    def rows(counter: Counter[str]) -> list[dict[str, Any]]:
        return [
            {
                "function": name,
                "share_pct": round(100 * n / total, 1),
                "us_per_signal": round(per_signal_us * n / total, 1),
            }
            for name, n in counter.most_common(top)
        ]

    return {
        "samples": total,
        "worker_cpu_s": round(cpu_s, 3),
        "signals": signals,
        "cpu_us_per_signal": round(per_signal_us, 1),
        "top_self": rows(self_),
        "top_inclusive": rows(incl),
        "self_by_package": rows(pkg),
        "threads": rows(threads),
        "by_activity": rows(activities),
    }


class Recording:
    """``py-spy record`` on ``pid`` until stopped (SIGINT makes it write its output)."""

    def __init__(self, exe: str, pid: int, out: Path) -> None:
        self.out = out
        self.proc = subprocess.Popen(
            [exe, "record", "--pid", str(pid), "--rate", "100",
             "--format", "raw", "--full-filenames", "-o", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        if not self.out.exists():
            raise RuntimeError(f"py-spy wrote nothing: {err.decode(errors='replace')[-500:]}")
        return self.out.read_text()


async def _webhook_pass(ctx: Context, exe: str) -> dict[str, Any]:
    seconds = ctx.mode.profile_seconds or DEFAULT_SECONDS
    main = await ctx.ensure_main()
    requests = presign(f"{ctx.run_id}p", int(seconds * 4000))
    cpu0 = resources.cpu_seconds(main.pid)
    rec = Recording(exe, main.pid, _raw_path(ctx, "webhook"))
    await asyncio.sleep(0.5)  # py-spy attached
    async with Offsets(ctx.bootstrap) as offsets:
        fills0 = await offsets.total(main.topics["fills"])
        result = await closed_loop(main.url + "/webhook/signals", requests, 8, seconds, warmup=0.0)
        await offsets.wait_total(main.topics["fills"], fills0 + result.accepted, 120.0)
    raw = await asyncio.to_thread(rec.stop)
    cpu = resources.cpu_seconds(main.pid) - cpu0
    _keep(ctx, "webhook", raw)
    return {"worker": "the main worker, under HTTP load", **summarise(raw, cpu, result.accepted)}


async def agents_pass(ctx: Context, worker: WorkerProc, exe: str, note: str) -> dict[str, Any]:
    """Record ``worker`` (ready, idle) while it processes signals produced to its topic."""
    n = max(1000, ctx.mode.chain_count // 10)
    async with Offsets(ctx.bootstrap) as offsets:
        fills0 = await offsets.total(worker.topics["fills"])
        cpu0 = resources.cpu_seconds(worker.pid)
        rec = Recording(exe, worker.pid, _raw_path(ctx, "agents"))
        await asyncio.sleep(0.5)
        await preload(ctx.bootstrap, worker.topics["signals"], signal_records(ctx.run_id, n))
        done = await offsets.wait_total(worker.topics["fills"], fills0 + n, ctx.mode.chain_timeout)
        raw = await asyncio.to_thread(rec.stop)
        cpu = resources.cpu_seconds(worker.pid) - cpu0
    _keep(ctx, "agents", raw)
    return {"worker": note, **summarise(raw, cpu, done - fills0)}


async def _agents_pass(ctx: Context, exe: str) -> dict[str, Any]:
    if ctx.agents_profile is not None:  # taken on the chain worker, in steady state
        return ctx.agents_profile
    worker = ctx.stack.worker(unique("prof"))
    try:
        await worker.wait_ready()
        return await agents_pass(ctx, worker, exe, "a fresh worker (empty tables)")
    finally:
        worker.stop()


def _raw_path(ctx: Context, name: str) -> Path:
    return ctx.workdir / f"profile-{name}.raw"


def compact(raw: str) -> str:
    """The stacks with short paths, no line numbers and no plumbing frames (the leaf
    always stays), identical ones merged: small enough to keep with the results."""
    merged: Counter[str] = Counter()
    for frames, n in parse(raw):
        kept = [
            f"{func} ({short_path(path)})"
            for i, (func, path) in enumerate(frames)
            if i in (0, len(frames) - 1) or not (plumbing(path) or func in ROOTS)
        ]
        merged[";".join(kept)] += n
    return "".join(f"{stack} {n}\n" for stack, n in merged.most_common())


def _keep(ctx: Context, name: str, raw: str) -> None:
    """Collapsed stacks (flamegraph.pl, speedscope) go with the results as evidence."""
    if ctx.out is not None:
        ctx.out.mkdir(parents=True, exist_ok=True)
        (ctx.out / f"profile-{name}.folded").write_text(compact(raw))


def resummarise(profile: dict[str, Any], directory: Path) -> None:
    """Add what a newer ``summarise`` knows to a stored profile, from its kept stacks."""
    for name in ("webhook", "agents"):
        p = profile.get(name, {})
        folded = directory / f"profile-{name}.folded"
        if "worker_cpu_s" in p and folded.exists():
            fresh = summarise(folded.read_text(), p["worker_cpu_s"], p["signals"])
            for key, value in fresh.items():
                p.setdefault(key, value)


async def run(ctx: Context) -> dict[str, Any]:
    exe = py_spy()
    if exe is None or not resources.available():
        return not_measured("py-spy or psutil is not installed")
    out: dict[str, Any] = {"status": "measured"}
    for name, fn in (("webhook", _webhook_pass), ("agents", _agents_pass)):
        ctx.progress("profile", f"{name}: recording the worker with py-spy")
        try:
            out[name] = await fn(ctx, exe)
        except Exception as exc:  # a profile is a bonus; never lose the run for it
            log.exception("profile pass %s failed", name)
            out[name] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
            continue
        top = out[name]["top_self"][:3]
        ctx.progress(
            "profile",
            f"{name}: {out[name]['cpu_us_per_signal']} us CPU/signal; top self: "
            + "; ".join(f"{r['function']} {r['share_pct']}%" for r in top),
        )
    return out

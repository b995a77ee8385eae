"""Bring-up: one local Kafka (KRaft) in a temp dir on a free port, and worker processes.

A worker is ``python -m app.cli worker`` with its own app id (= consumer group), topics,
web port and data dir, exactly like the integration tests launch it
(``tests/integration/support.py``); kept here so the bench does not depend on test code.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from app.broker import LocalKafka
from app.broker.launcher import free_port

log = logging.getLogger(__name__)

SECRET = "bench-secret-0123456789"
ROOT = Path(__file__).resolve().parents[1]
TOPIC_KINDS = ("signals", "orders", "fills", "dead-letters", "order-events", "quotes")
# Settings of every bench worker beyond its names, port and data dir (recorded in results).
WORKER_SETTINGS = {"AT_STREAM_DEFAULT_RATE_LIMIT": "0", "AT_STREAM_LOG_LEVEL": "info"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def topics_for(prefix: str) -> dict[str, str]:
    return {kind: f"{prefix}-{kind}" for kind in TOPIC_KINDS}


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any at-stream setting, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AT_STREAM_") and k != "API_KEY_HMAC_SECRET"
    }
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


@dataclass
class WorkerProc:
    """One at-stream worker process."""

    bootstrap: str
    prefix: str
    data: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    launched: float = 0.0  # time.monotonic() at launch
    settings: dict[str, str] = field(default_factory=dict)  # env beyond WORKER_SETTINGS

    @property
    def topics(self) -> dict[str, str]:
        return topics_for(self.prefix)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def log_path(self) -> Path:
        return self.data / "worker.log"

    def env(self) -> dict[str, str]:
        t = self.topics
        return child_env(
            {
                "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
                "API_KEY_HMAC_SECRET": SECRET,
                "AT_STREAM_APP_ID": self.prefix,
                "AT_STREAM_SIGNALS_TOPIC": t["signals"],
                "AT_STREAM_ORDERS_TOPIC": t["orders"],
                "AT_STREAM_FILLS_TOPIC": t["fills"],
                "AT_STREAM_DEAD_LETTER_TOPIC": t["dead-letters"],
                "AT_STREAM_ORDER_EVENTS_TOPIC": t["order-events"],
                "AT_STREAM_QUOTES_TOPIC": t["quotes"],
                "AT_STREAM_WEB_PORT": str(self.port),
                "AT_STREAM_DATA_DIR": str(self.data),
                # capacity, not policy: the default provider's rate limit (1,000/s) off
                **WORKER_SETTINGS,
                **self.settings,
            }
        )

    def start(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            self.launched = time.monotonic()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "worker", "-l", "info"],
                cwd=self.data,  # no stray .env of the work tree
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def wait_ready(self, timeout: float = 90.0, poll: float = 0.05) -> float:
        """Seconds from launch until ``/readyz`` answered 200."""
        deadline = time.monotonic() + timeout
        client_timeout = aiohttp.ClientTimeout(total=3.0)
        async with aiohttp.ClientSession(timeout=client_timeout) as http:
            while time.monotonic() < deadline:
                if self.proc is None or self.proc.poll() is not None:
                    code = None if self.proc is None else self.proc.returncode
                    raise RuntimeError(f"worker exited ({code}):\n{self.log_tail()}")
                try:
                    async with http.get(self.url + "/readyz") as resp:
                        if resp.status == 200:
                            return time.monotonic() - self.launched
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(poll)
        raise RuntimeError(f"worker not ready in {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("worker %s ignored SIGTERM for %.0fs; killing it", self.prefix, timeout)
            self.proc.kill()
            self.proc.wait(5)


@dataclass
class Stack:
    """The broker (ours unless ``bootstrap`` is given) and every worker launched."""

    root: Path
    heap: str = "512m"
    external_bootstrap: str | None = None
    broker: LocalKafka | None = None
    workers: list[WorkerProc] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        if self.external_bootstrap:
            return self.external_bootstrap
        assert self.broker is not None, "start_broker() first"
        return self.broker.bootstrap

    @property
    def broker_pid(self) -> int | None:
        return None if self.broker is None else self.broker.pid()

    def start_broker(self) -> float | None:
        """Seconds to start our broker (format included); None for an external one."""
        if self.external_bootstrap:
            return None
        self.broker = LocalKafka(self.root / "kafka", port=free_port(), heap=self.heap)
        started = time.monotonic()
        self.broker.start(timeout=120.0)
        return time.monotonic() - started

    def worker(
        self,
        prefix: str | None = None,
        *,
        start: bool = True,
        settings: Mapping[str, str] | None = None,
    ) -> WorkerProc:
        name = prefix or unique("bench")
        data = self.root / "workers" / f"{name}-{len(self.workers)}"
        w = WorkerProc(self.bootstrap, name, data, settings=dict(settings or {}))
        self.workers.append(w)
        if start:
            w.start()
        return w

    def close(self) -> None:
        for w in self.workers:
            try:
                w.stop()
            except Exception:  # best effort: never leave the broker running
                log.exception("could not stop worker %s", w.prefix)
        if self.broker is not None:
            self.broker.stop()

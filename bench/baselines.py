"""The baseline processes: the bare aiohttp handler, the raw aiokafka two-hop loop and the
chain in plain per-record Faust."""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from app.broker.launcher import free_port
from bench.stack import SECRET, child_env

log = logging.getLogger(__name__)


@dataclass
class Service:
    """A helper process of the bench, with its output in a log file."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    url: str = ""

    @classmethod
    def launch(cls, name: str, args: list[str], workdir: Path, url: str = "") -> Service:
        workdir.mkdir(parents=True, exist_ok=True)
        log_path = workdir / f"{name}.log"
        with log_path.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, *args],
                cwd=workdir,
                env=child_env({}),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        return cls(name, proc, log_path, url)

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def wait_http(self, path: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2.0)) as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited: {self.log_path.read_text()[-2000:]}")
                try:
                    async with http.get(self.url + path) as resp:
                        if resp.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.name} did not answer in {timeout:.0f}s")

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


async def bare_handler(workdir: Path) -> Service:
    """Start the bare handler and wait until it answers."""
    port = free_port()
    svc = Service.launch(
        "bare-handler",
        ["-m", "bench.bare_handler", "--port", str(port), "--secret", SECRET],
        workdir,
        url=f"http://127.0.0.1:{port}",
    )
    try:
        await svc.wait_http("/healthz")
    except BaseException:
        svc.stop()
        raise
    return svc


def raw_loop(bootstrap: str, group: str, topics: list[str], workdir: Path) -> Service:
    """Start the two-hop aiokafka loop over ``topics`` (source, middle, destination)."""
    return Service.launch(
        "raw-loop",
        ["-m", "bench.rawloop", "--bootstrap", bootstrap, "--group", group, *topics],
        workdir,
    )


def plain_faust(bootstrap: str, group: str, topics: list[str], workdir: Path) -> Service:
    """Start the chain as plain per-record Faust agents over ``topics`` (signals, orders, fills)."""
    data = workdir / "data"
    return Service.launch(
        "plain-faust",
        ["-m", "bench.plainfaust", "--bootstrap", bootstrap, "--group", group,
         "--datadir", str(data), *topics],
        workdir,
    )  # fmt: skip

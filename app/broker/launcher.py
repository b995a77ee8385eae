"""Start and stop a single-node Apache Kafka in KRaft mode on 127.0.0.1.

The jars come from Maven Central through Maven and the ``pom.xml`` beside this file,
into a cache (``~/.cache/at-stream`` or ``$AT_STREAM_CACHE_DIR``), so a second start
needs no network. The broker runs detached; its pid, config, log and data live in one
directory. Stopping sends SIGTERM: a controlled shutdown that flushes the log, so no
acknowledged record is lost.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from app.errors import BrokerError

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
KAFKA_VERSION = re.search(  # type: ignore[union-attr]  # the pom always names it
    r"<kafka.version>([^<]+)</kafka.version>", (HERE / "pom.xml").read_text()
).group(1)


def cache_dir() -> Path:
    base = os.environ.get("AT_STREAM_CACHE_DIR") or Path.home() / ".cache" / "at-stream"
    return Path(base) / f"kafka-{KAFKA_VERSION}"


def ensure_jars() -> Path:
    """The directory of the broker's jars, resolved by Maven on first use."""
    libs = cache_dir() / "libs"
    if (libs / ".complete").exists():
        return libs
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise BrokerError("the local broker needs Java 17+ and Maven (mvn) on PATH")
    staging = cache_dir() / f"libs.{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [
        "mvn", "-q", "-B", "-f", str(HERE / "pom.xml"),
        "dependency:copy-dependencies", "-DincludeScope=runtime",
        f"-DoutputDirectory={staging}",
    ]  # fmt: skip
    log.info("resolving Kafka %s jars with Maven into %s", KAFKA_VERSION, libs)
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
        raise BrokerError(f"mvn could not resolve the Kafka jars: {' | '.join(tail)}")
    (staging / ".complete").touch()
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    return libs


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cluster_id() -> str:
    """A random KRaft cluster id, as Kafka's ``Uuid.randomUuid`` makes them.

    URL-safe base64 of 16 random bytes; like Kafka, never one that starts with "-"
    (1 in 64 would: the storage tool would read it as an option and fail).
    """
    while True:
        cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster.startswith("-"):
            return cluster


def _server_properties(
    data: Path, port: int, controller_port: int, advertised_port: int | None = None
) -> str:
    return f"""# Written by at-stream's launcher: one node, broker and controller at once.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{advertised_port or port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs={data / "log"}
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=-1
log.flush.interval.ms=1000
"""


@dataclass
class LocalKafka:
    """One local broker: its directory, its port, its heap."""

    directory: Path
    port: int = 19092
    heap: str = "512m"
    # Clients are told to connect here instead of ``port`` (a proxy in front of the broker,
    # as the network fault tests use); None: ``port`` itself.
    advertised_port: int | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.directory / "kafka.pid"

    @property
    def log_file(self) -> Path:
        return self.directory / "kafka.log"

    def pid(self) -> int | None:
        """The pid of this directory's broker if it is running."""
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, 0)
        except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
            return None
        return pid

    def running(self) -> bool:
        return self.pid() is not None and port_open(self.port)

    def _java(self, libs: Path, main: str, *args: str) -> list[str]:
        java = shutil.which("java") or "java"
        return [
            java, f"-Xms{self.heap}", f"-Xmx{self.heap}", "-XX:+UseG1GC",
            "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={HERE / 'log4j2.properties'}",
            "-cp", f"{libs}/*", main, *args,
        ]  # fmt: skip

    def _format(self, libs: Path) -> Path:
        """Write the config and format the storage once; later starts reuse both."""
        config = self.directory / "server.properties"
        if (self.directory / "log" / "meta.properties").exists():
            return config
        self.directory.mkdir(parents=True, exist_ok=True)
        controller_port = free_port()
        config.write_text(
            _server_properties(self.directory, self.port, controller_port, self.advertised_port)
        )
        cluster = cluster_id()
        cmd = self._java(
            libs, "kafka.tools.StorageTool", "format", "-t", cluster, "-c", str(config)
        )
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BrokerError(f"kafka-storage format failed: {done.stdout}{done.stderr}".strip())
        return config

    def start(self, timeout: float = 60.0) -> bool:
        """Start the broker unless it runs already; True if this call started it."""
        if self.running():
            return False
        if port_open(self.port):
            raise BrokerError(f"port {self.port} is taken by another process")
        libs = ensure_jars()
        config = self._format(libs)
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as out:
            proc = subprocess.Popen(
                self._java(libs, "kafka.Kafka", str(config)),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # survives the launching shell
            )
        self.pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BrokerError(f"Kafka exited with {proc.returncode}; see {self.log_file}")
            if port_open(self.port) and "Kafka Server started" in self._log_tail():
                return True
            time.sleep(0.1)
        self.stop()
        raise BrokerError(f"Kafka did not start within {timeout:.0f}s; see {self.log_file}")

    def _log_tail(self) -> str:
        with self.log_file.open("rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - 8192))
            return fh.read().decode("utf-8", "replace")

    def stop(self, timeout: float = 30.0) -> bool:
        """Controlled shutdown (SIGTERM), SIGKILL after ``timeout``; True if it ran."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.pid() is not None:
            _reap(pid)
            time.sleep(0.1)
        if self.pid() is not None:
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
            _reap(pid)
        self.pid_file.unlink(missing_ok=True)
        return True


def _reap(pid: int) -> None:
    """Collect our own child's exit status so it does not linger as a zombie."""
    with suppress(ChildProcessError):  # not our child: its parent reaps it
        os.waitpid(pid, os.WNOHANG)

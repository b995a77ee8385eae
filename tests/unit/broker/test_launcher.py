"""Unit tests of the pure parts of app.broker.launcher (no Java, no Maven, no broker)."""

from __future__ import annotations

import base64
import os
import re
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from app.broker import KAFKA_VERSION, LocalKafka
from app.broker.launcher import _server_properties, cluster_id, free_port, port_open

PORT = 29092
CONTROLLER_PORT = 29093


def _properties(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not a property line: {line!r}"
        assert key not in out, f"{key} is set twice"
        out[key] = value
    return out


@pytest.fixture
def props(tmp_path: Path) -> dict[str, str]:
    return _properties(_server_properties(tmp_path, PORT, CONTROLLER_PORT))


# -- server.properties ------------------------------------------------------------------------


def test_listeners_use_the_given_ports(props: dict[str, str]) -> None:
    assert props["listeners"] == (
        f"PLAINTEXT://127.0.0.1:{PORT},CONTROLLER://127.0.0.1:{CONTROLLER_PORT}"
    )
    assert props["advertised.listeners"] == f"PLAINTEXT://127.0.0.1:{PORT}"
    assert props["controller.quorum.voters"] == f"1@127.0.0.1:{CONTROLLER_PORT}"


def test_single_node_kraft(props: dict[str, str]) -> None:
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["inter.broker.listener.name"] == "PLAINTEXT"


@pytest.mark.parametrize(
    "key",
    [
        "default.replication.factor",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "min.insync.replicas",
        "transaction.state.log.min.isr",
    ],
)
def test_replication_factor_one(props: dict[str, str], key: str) -> None:
    assert props[key] == "1"


def test_no_rebalance_delay(props: dict[str, str]) -> None:
    assert props["group.initial.rebalance.delay.ms"] == "0"


def test_topics_are_not_auto_created(props: dict[str, str]) -> None:
    assert props["auto.create.topics.enable"] == "false"


def test_log_dirs_are_inside_the_directory(tmp_path: Path, props: dict[str, str]) -> None:
    assert props["log.dirs"] == str(tmp_path / "log")


def test_only_the_given_ports_appear(tmp_path: Path) -> None:
    text = _server_properties(tmp_path, 40001, 40002)
    ports = {int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", text)}
    assert ports == {40001, 40002}


def test_properties_differ_by_port(tmp_path: Path) -> None:
    assert _server_properties(tmp_path, 1, 2) != _server_properties(tmp_path, 1, 3)
    assert _server_properties(tmp_path, 1, 2) == _server_properties(tmp_path, 1, 2)


# -- ports ----------------------------------------------------------------------------------


def test_free_port_is_bindable() -> None:
    port = free_port()
    assert 1024 <= port <= 65535
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        assert sock.getsockname()[1] == port


def test_free_port_is_not_open() -> None:
    assert not port_open(free_port())


def test_port_open_sees_a_listener() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        assert port_open(int(sock.getsockname()[1]))


# -- LocalKafka without a broker ------------------------------------------------------------


def test_paths_and_bootstrap(tmp_path: Path) -> None:
    kafka = LocalKafka(tmp_path, port=PORT)
    assert kafka.bootstrap == f"127.0.0.1:{PORT}"
    assert kafka.pid_file == tmp_path / "kafka.pid"
    assert kafka.log_file == tmp_path / "kafka.log"
    assert LocalKafka(tmp_path).port == 19092


def test_empty_directory_has_no_broker(tmp_path: Path) -> None:
    kafka = LocalKafka(tmp_path, port=free_port())
    assert kafka.pid() is None
    assert kafka.running() is False


def test_missing_directory_has_no_broker(tmp_path: Path) -> None:
    kafka = LocalKafka(tmp_path / "absent", port=free_port())
    assert kafka.pid() is None
    assert kafka.running() is False


@pytest.mark.parametrize("content", ["", "not-a-pid", "12.5", "\n"])
def test_garbage_pid_file(tmp_path: Path, content: str) -> None:
    kafka = LocalKafka(tmp_path, port=free_port())
    kafka.pid_file.write_text(content)
    assert kafka.pid() is None
    assert kafka.running() is False


def test_pid_of_a_dead_process(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    kafka = LocalKafka(tmp_path, port=free_port())
    kafka.pid_file.write_text(str(proc.pid))
    assert kafka.pid() is None


def test_live_pid_without_the_port_is_not_running(tmp_path: Path) -> None:
    kafka = LocalKafka(tmp_path, port=free_port())
    kafka.pid_file.write_text(f"{os.getpid()}\n")
    assert kafka.pid() == os.getpid()
    assert kafka.running() is False


def test_stop_without_a_broker_is_a_no_op(tmp_path: Path) -> None:
    kafka = LocalKafka(tmp_path, port=free_port())
    assert kafka.stop() is False


def test_kafka_version_is_read_from_the_pom() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-].+)?", KAFKA_VERSION)


def test_cluster_ids_never_start_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """1 in 64 random ids starts with "-", which the storage tool reads as an option."""
    dashed = uuid.UUID(bytes=base64.urlsafe_b64decode("-" + "A" * 21 + "=="))
    plain = uuid.UUID(int=1)
    draws = iter([dashed, dashed, plain])
    monkeypatch.setattr("app.broker.launcher.uuid.uuid4", lambda: next(draws))
    assert cluster_id() == base64.urlsafe_b64encode(plain.bytes).decode().rstrip("=")


def test_cluster_ids_are_kafka_shaped() -> None:
    for _ in range(2000):
        cid = cluster_id()
        assert len(cid) == 22 and not cid.startswith("-")
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cid)

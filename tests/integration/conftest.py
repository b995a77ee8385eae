"""Real components for integration tests: one broker per session, workers per module.

The broker is chosen once: ``KAFKA_BOOTSTRAP_SERVERS`` if set; else a container started
through testcontainers if a Docker engine answers (Redpanda if its image is present, else
at-stream's own Kafka image of ``make images`` if present, else Redpanda pulled); else the
project's own local Kafka launcher (``at_stream.testing.brokers.any_broker``). These tests
never skip for lack of Docker, and the summary names the broker that ran.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from app.broker import LocalKafka
from at_stream.testing.brokers import Broker, any_broker
from tests.integration.alpaca_server import alpaca  # noqa: F401  (the local Alpaca server fixture)
from tests.integration.support import Worker, start_local_kafka, unique

USED: list[Broker] = []


# Tests that SIGKILL, SIGTERM or rebalance workers under load and bound how long that takes:
# ``make test`` runs them in one pytest process after the others (``-m serial``), because
# two processes competing for two cores expired their workers' sessions (ci/test-paths).
SERIAL = frozenset(
    {
        "test_audit.py",
        "test_bridge_chaos.py",
        "test_crash.py",
        "test_execution_cluster.py",
        "test_failover.py",
        "test_lifecycle.py",
        "test_scale.py",
        "test_shutdown.py",
        "test_stall.py",
    }
)


@pytest.hookimpl(tryfirst=True)  # before -m selects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.nodeid:
            item.add_marker(pytest.mark.integration)
            if item.path.name in SERIAL:
                item.add_marker(pytest.mark.serial)


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap address of a real Kafka-compatible broker."""
    with any_broker(tmp_path_factory.mktemp("broker")) as broker:
        USED.append(broker)
        yield broker.bootstrap


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for broker in USED:
        terminalreporter.write_line(f"integration broker: {broker.describe()}")


@pytest.fixture
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A broker of the test's own, for a test that stops or restarts it."""
    broker = start_local_kafka(tmp_path_factory, heap="256m")
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def start_worker(
    kafka: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Worker]]:
    """Start workers (each its own process) on unique topics; all are stopped after."""
    started: list[Worker] = []

    def start(prefix: str | None = None, **env: str) -> Worker:
        worker = Worker.launch(kafka, tmp_path_factory.mktemp("worker"), prefix or unique("t"), env)
        started.append(worker)
        return worker

    try:
        yield start
    finally:  # a teardown, not a test: SIGKILL, all at once (a clean SIGTERM stop takes about
        # 2 s per worker; it is tested where it matters: test_shutdown, test_lifecycle and
        # test_containers check the drain and the exit code)
        for worker in started:
            worker.kill()
        for worker in started:
            worker.stop(signal.SIGKILL, timeout=5)


@pytest.fixture
async def worker(start_worker: Callable[..., Worker]) -> AsyncIterator[Worker]:
    """One ready worker with its own topics and consumer group."""
    w = start_worker()
    await w.wait_ready()
    yield w


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path

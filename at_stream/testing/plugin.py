"""The pytest plugin ``at_stream.testing`` (entry point ``pytest11``), loaded by pytest
wherever at-stream is installed. Its fixtures:

- ``at_stream_broker`` (session): a real broker, chosen as ``at_stream.testing.brokers``
  says (``KAFKA_BOOTSTRAP_SERVERS``, a container when Docker answers, the local launcher);
- ``at_stream_signers``: one :class:`Signer` per scheme, with fresh secrets;
- ``at_stream_worker``: a ready worker on the broker with its own topics and consumer
  group, in a container when Docker answers and has the at-stream image, else a process;
- ``at_stream``: an :class:`AtStream` over that worker: ``post_signal``, ``wait_for``...
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from at_stream.testing.brokers import Broker, any_broker
from at_stream.testing.harness import (
    AtStream,
    Signer,
    Worker,
    default_signers,
    running_worker,
)

_used: dict[str, set[str]] = {"broker": set(), "worker": set()}


@pytest.fixture(scope="session")
def at_stream_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A real Kafka-compatible broker for the whole session."""
    with ExitStack() as stack:
        broker = stack.enter_context(any_broker(tmp_path_factory.mktemp("at-stream-broker")))
        _used["broker"].add(broker.describe())
        yield broker


@pytest.fixture
def at_stream_signers() -> dict[str, Signer]:
    """Signers keyed by scheme: ``legacy``, ``standard-webhooks``, ``tradingview``."""
    return default_signers()


@pytest.fixture
def at_stream_worker(
    at_stream_broker: Broker,
    at_stream_signers: dict[str, Signer],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Worker]:
    """A ready worker with its own topics and group; stopped and removed after the test."""
    directory = tmp_path_factory.mktemp("at-stream-worker")
    with running_worker(at_stream_broker.bootstrap, directory, at_stream_signers) as worker:
        _used["worker"].add(
            worker.mode + (f" ({worker.image})" if worker.mode == "container" else "")
        )
        yield worker


@pytest.fixture
def at_stream(at_stream_worker: Worker, at_stream_signers: dict[str, Signer]) -> AtStream:
    """A running at-stream: ``post_signal(...)``, ``wait_for("fills", signal_id=...)``."""
    return AtStream(at_stream_worker, at_stream_signers)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for broker in sorted(_used["broker"]):
        terminalreporter.write_line(f"at-stream.testing broker: {broker}")
    for mode in sorted(_used["worker"]):
        terminalreporter.write_line(f"at-stream.testing worker: {mode}")

"""A real Kafka-compatible broker for tests, chosen in one fixed order.

1. ``KAFKA_BOOTSTRAP_SERVERS``, if set: a broker someone else runs.
2. A Docker engine that answers: a container started through testcontainers, on the host
   network (every address 127.0.0.1). Redpanda (testcontainers' module) if its image is
   present; else at-stream's own single-node Kafka image if present (``make images``);
   else Redpanda, pulled. ``AT_STREAM_TEST_BROKER=redpanda|kafka`` forces one of the two.
3. at-stream's local launcher (Java 17+ and Maven on the machine).

``AT_STREAM_TEST_BROKER=local`` skips Docker altogether. Every broker is stopped when its
context ends, also on failure.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.broker import LocalKafka
from app.broker.launcher import KAFKA_VERSION, cluster_id, free_port, port_open
from app.errors import BrokerError

REDPANDA_IMAGE = os.environ.get(
    "AT_STREAM_REDPANDA_IMAGE", "docker.redpanda.com/redpandadata/redpanda:v24.2.18"
)
KAFKA_IMAGE = os.environ.get("AT_STREAM_KAFKA_IMAGE", f"at-stream/kafka:{KAFKA_VERSION}")


@dataclass(frozen=True)
class Broker:
    """Where a test broker listens and how it was started (for the test summary)."""

    bootstrap: str
    kind: str  # "env" | "redpanda-container" | "kafka-container" | "local-launcher"
    detail: str = ""

    def describe(self) -> str:
        return f"{self.kind} {self.detail} at {self.bootstrap}".replace("  ", " ")


def docker_client(timeout: int = 3) -> Any | None:
    """A docker-py client if a Docker engine answers (not just a client on PATH)."""
    try:
        import docker

        client = docker.from_env(timeout=timeout)
        client.ping()
        return client
    except Exception:  # no engine, no socket, no permission: all mean "no Docker"
        return None


def docker_available() -> bool:
    client = docker_client()
    if client is None:
        return False
    client.close()
    return True


def image_present(client: Any, image: str) -> bool:
    try:
        client.images.get(image)
        return True
    except Exception:
        return False


def _no_ryuk_unless_present(client: Any) -> None:
    """Ryuk (testcontainers' reaper) needs its image; without it we clean up ourselves."""
    from testcontainers.core.config import testcontainers_config as config

    if "TESTCONTAINERS_RYUK_DISABLED" in os.environ:
        return
    if not image_present(client, config.ryuk_image):
        config.ryuk_disabled = True


@contextmanager
def kafka_container(image: str = KAFKA_IMAGE, timeout: float = 90.0) -> Iterator[Broker]:
    """at-stream's Kafka image through testcontainers, on the host network."""
    from testcontainers.core.container import DockerContainer

    client = docker_client()
    if client is None:
        raise BrokerError("no Docker engine answers")
    _no_ryuk_unless_present(client)
    client.close()
    port, controller = free_port(), free_port()
    container = (
        DockerContainer(image)
        .with_env("KAFKA_PORT", str(port))
        .with_env("KAFKA_CONTROLLER_PORT", str(controller))
        .with_env("KAFKA_CLUSTER_ID", cluster_id())
        .with_env("KAFKA_HEAP", os.environ.get("AT_STREAM_TEST_KAFKA_HEAP", "384m"))
        .with_kwargs(network_mode="host")
    )
    container.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            logs = b"".join(container.get_logs()).decode(errors="replace")
            if port_open(port) and "Kafka Server started" in logs:
                break
            wrapped = container.get_wrapped_container()
            wrapped.reload()
            if wrapped.status == "exited":
                raise BrokerError(f"the Kafka container exited:\n{logs[-2000:]}")
            if time.monotonic() > deadline:
                raise BrokerError(f"the Kafka container did not start in {timeout:.0f}s")
            time.sleep(0.2)
        yield Broker(f"127.0.0.1:{port}", "kafka-container", image)
    finally:
        container.stop()


@contextmanager
def redpanda_container(image: str = REDPANDA_IMAGE) -> Iterator[Broker]:
    from testcontainers.kafka import RedpandaContainer

    client = docker_client()
    if client is not None:
        _no_ryuk_unless_present(client)
        client.close()
    with RedpandaContainer(image=image) as redpanda:
        yield Broker(redpanda.get_bootstrap_server(), "redpanda-container", image)


@contextmanager
def container_broker() -> Iterator[Broker]:
    """A broker in a container: the choice of step 2 above."""
    forced = os.environ.get("AT_STREAM_TEST_BROKER", "")
    if forced == "kafka":
        use_kafka = True
    elif forced == "redpanda":
        use_kafka = False
    else:
        client = docker_client()
        if client is None:
            raise BrokerError("no Docker engine answers")
        use_kafka = not image_present(client, REDPANDA_IMAGE) and image_present(client, KAFKA_IMAGE)
        client.close()
    with kafka_container() if use_kafka else redpanda_container() as broker:
        yield broker


def start_local_kafka(directory: Path, heap: str = "384m") -> LocalKafka:
    """A started local broker; a port taken between choosing and binding it gets a retry."""
    for attempt in range(3):
        broker = LocalKafka(directory / f"kafka-{attempt}", port=free_port(), heap=heap)
        try:
            broker.start()
            return broker
        except BrokerError:
            broker.stop()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@contextmanager
def local_broker(directory: Path) -> Iterator[Broker]:
    broker = start_local_kafka(directory)
    try:
        yield Broker(broker.bootstrap, "local-launcher", f"Kafka {KAFKA_VERSION}")
    finally:
        broker.stop()


@contextmanager
def any_broker(directory: Path) -> Iterator[Broker]:
    """The broker of the fixed order: env, then a container if Docker answers, then local."""
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    forced = os.environ.get("AT_STREAM_TEST_BROKER", "")
    if given and forced in ("", "env"):
        yield Broker(given, "env", "KAFKA_BOOTSTRAP_SERVERS")
    elif forced != "local" and (forced in ("kafka", "redpanda") or docker_available()):
        with container_broker() as broker:
            yield broker
    else:
        with local_broker(directory) as broker:
            yield broker

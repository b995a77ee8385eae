"""The local Kafka launcher, through the CLI a user runs: start, restart, durability."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from aiokafka import AIOKafkaProducer

from app.admin import ensure_topics
from app.broker import LocalKafka
from app.broker.launcher import free_port
from app.settings import Settings
from tests.integration.support import ROOT, read_topic, unique


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_start_twice_restart_keeps_acknowledged_records(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    env.update(AT_STREAM_BROKER_DIR=str(tmp_path / "kafka"), AT_STREAM_BROKER_PORT=str(port))
    broker = LocalKafka(tmp_path / "kafka", port=port)
    try:
        first = cli("broker", "start", env=env)
        assert first.returncode == 0, first.stderr
        assert f"Kafka started at 127.0.0.1:{port}" in first.stdout
        second = cli("broker", "start", env=env)
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stdout

        topic = unique("durable")
        settings = Settings(kafka_bootstrap_servers=broker.bootstrap, signals_topic=topic)
        await ensure_topics(settings)
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        try:
            for i in range(200):
                await producer.send_and_wait(topic, f"r{i}".encode(), key=str(i).encode())
        finally:
            await producer.stop()

        stopped = cli("broker", "stop", env=env)
        assert stopped.returncode == 0 and "stopped" in stopped.stdout
        status = cli("broker", "status", env=env)
        assert status.returncode == 3 and "not running" in status.stdout
        assert cli("broker", "start", env=env).returncode == 0

        records = await read_topic(broker.bootstrap, topic, 200)
        assert sorted(r.value for r in records) == sorted(f"r{i}".encode() for i in range(200))
    finally:
        broker.stop()

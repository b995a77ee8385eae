"""A real, local, single-node Apache Kafka (KRaft) for development, tests and CI."""

from __future__ import annotations

from app.broker.launcher import KAFKA_VERSION, LocalKafka

__all__ = ["KAFKA_VERSION", "LocalKafka"]

"""The bridge's configuration from the settings: routes, the stream, the inbound consumer.

Pure: unit-tested without NATS. The stream's subjects are every outbound subject (a
``{token}`` becomes ``*``) and the inbound subject; an existing stream keeps the subjects
it had (the old system's publishers may use others) and gets ours added.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.js import api

from app.bridge.outbound_map import Route, tokens, wildcard
from app.errors import ConfigError
from app.settings import Settings, env_name

TOKEN_FIELDS = {"account", "symbol", "strategy", "side"}


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    routes: dict[str, Route]  # by Kafka topic
    inbound_subject: str
    stream: str
    durable: str
    stream_config: api.StreamConfig
    consumer_config: api.ConsumerConfig

    @property
    def topics(self) -> list[str]:
        return list(self.routes)


def _check_template(field: str, template: str, *, allow_tokens: bool) -> None:
    found = set(tokens(template))
    if found and not allow_tokens:
        raise ConfigError(env_name(field), "takes no {tokens}")
    unknown = found - TOKEN_FIELDS
    if unknown:
        raise ConfigError(env_name(field), f"unknown token(s) {sorted(unknown)}")
    stripped = template
    for name in found:
        stripped = stripped.replace("{" + name + "}", "x")
    if "{" in stripped or "}" in stripped:
        raise ConfigError(env_name(field), "has a malformed {token}")


def bridge_config(settings: Settings) -> BridgeConfig:
    """Everything the bridge needs; ConfigError naming the variable on a bad template."""
    pairs = [
        (settings.signals_topic, "signal", "bridge_signals_subject"),
        (settings.orders_topic, "order", "bridge_orders_subject"),
        (settings.fills_topic, "fill", "bridge_fills_subject"),
        (settings.dead_letter_topic, "dead-letter", "bridge_dead_letters_subject"),
    ]
    routes: dict[str, Route] = {}
    for topic, kind, field in pairs:
        template = str(getattr(settings, field))
        _check_template(field, template, allow_tokens=True)
        routes[topic] = Route(topic, kind, template)
    inbound = settings.bridge_inbound_subject
    _check_template("bridge_inbound_subject", inbound, allow_tokens=False)
    subjects = sorted({wildcard(r.subject) for r in routes.values()} | {inbound})
    stream = api.StreamConfig(
        name=settings.nats_stream,
        description="at-stream bridge: Kafka topics out, legacy signals in",
        subjects=subjects,
        retention=api.RetentionPolicy(settings.bridge_stream_retention),
        storage=api.StorageType(settings.bridge_stream_storage),
        max_age=settings.bridge_stream_max_age_seconds,
        duplicate_window=min(
            settings.bridge_duplicate_window_seconds, settings.bridge_stream_max_age_seconds
        ),
        num_replicas=1,
    )
    consumer = api.ConsumerConfig(
        name=settings.nats_durable,
        durable_name=settings.nats_durable,
        description="at-stream bridge: legacy signals to Kafka",
        deliver_policy=api.DeliverPolicy.ALL,
        ack_policy=api.AckPolicy.EXPLICIT,
        ack_wait=settings.bridge_ack_wait_seconds,
        max_ack_pending=settings.bridge_max_ack_pending,
        max_deliver=-1,  # never given up: an invalid message is dead-lettered and acked
        filter_subject=inbound,
    )
    return BridgeConfig(
        routes=routes,
        inbound_subject=inbound,
        stream=settings.nats_stream,
        durable=settings.nats_durable,
        stream_config=stream,
        consumer_config=consumer,
    )


def merged_subjects(existing: list[str] | None, ours: list[str]) -> list[str]:
    """An existing stream's subjects with ours added (theirs kept, order kept)."""
    out = list(existing or [])
    out += [s for s in ours if s not in out]
    return out

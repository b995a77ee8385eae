"""The one settings object of at-stream.

Every field is read from the environment (or a ``.env`` file). The old NATS system's
names (``API_KEY_HMAC_SECRET``, ``NATS_URL``, ``NATS_STREAM``, ``NATS_DURABLE``) and
``KAFKA_BOOTSTRAP_SERVERS`` are read as they are; everything else is prefixed
``AT_STREAM_``. README.md lists every variable.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.errors import ConfigError
from app.providers import Provider, load_providers

_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-_\[\]:]+:\d{1,5}$")
_TOPIC = re.compile(r"^[A-Za-z0-9._\-]{1,200}$")

_SUBJECT_TEMPLATE = re.compile(r"^[A-Za-z0-9_\-{}]+(\.[A-Za-z0-9_\-{}]+)*$")
TopicName = Annotated[str, Field(pattern=_TOPIC.pattern)]


class Settings(BaseSettings):
    """Configuration for the worker, the webhook and the CLI."""

    model_config = SettingsConfigDict(
        env_prefix="AT_STREAM_", env_file=".env", extra="ignore", populate_by_name=True
    )

    # -- names kept from the old system ------------------------------------------------
    hmac_secret: SecretStr | None = Field(
        None,
        validation_alias="API_KEY_HMAC_SECRET",
        description="Shared HMAC-SHA256 secret of the webhook; the worker needs it.",
    )
    nats_url: str = Field(
        "nats://127.0.0.1:4222",
        validation_alias="NATS_URL",
        description="NATS server for the JetStream bridge.",
    )
    nats_stream: str = Field("trading-events", validation_alias="NATS_STREAM")
    nats_durable: str = Field("at-stream-bridge", validation_alias="NATS_DURABLE")

    # -- broker --------------------------------------------------------------------------
    kafka_bootstrap_servers: str | None = Field(
        None,
        validation_alias="KAFKA_BOOTSTRAP_SERVERS",
        description="Comma-separated host:port list; unset means the local launcher's broker.",
    )
    app_id: str = Field("at-stream", pattern=_TOPIC.pattern)
    signals_topic: TopicName = "signals"
    orders_topic: TopicName = "orders"
    fills_topic: TopicName = "fills"
    dead_letter_topic: TopicName = "dead-letters"
    quotes_topic: TopicName = Field(
        "quotes", description="Top-of-book quotes (bid, ask, last, sizes), keyed by symbol."
    )
    order_events_topic: TopicName = Field(
        "order-events", description="Order lifecycle events, keyed by account|symbol."
    )
    topic_partitions: int = Field(4, ge=1, le=1024)
    topic_replication_factor: int = Field(1, ge=1, le=16)

    # -- worker and web --------------------------------------------------------------------
    web_host: str = "127.0.0.1"
    web_port: int = Field(8001, ge=1, le=65535)
    web_advertised_host: str | None = Field(
        None, description="Host other workers reach this one at (default: AT_STREAM_WEB_HOST)."
    )
    data_dir: Path = Path("var/worker")
    log_level: str = Field("info", pattern=r"^(?i:debug|info|warning|error|critical)$")
    log_format: str = Field(
        "json", pattern=r"^(human|json)$", description="json (production) or human (make run)."
    )
    signature_tolerance_seconds: int = Field(300, ge=1, le=3600)
    request_deadline_seconds: float = Field(
        3.0, gt=0, le=60, description="Webhook answers within this; 503 if not recorded by then."
    )
    webhook_write_timeout_seconds: float | None = Field(
        None,
        gt=0,
        le=600,
        description="How long the broker may take to acknowledge a webhook's write before the "
        "producer gives it up (default: the request deadline). A write acknowledged after its "
        "503 is recorded as the delivery's outcome.",
    )
    idempotency_ttl_seconds: int = Field(
        86400,
        ge=60,
        description="Dedupe key retention; at least the signature tolerance, so a replay the "
        "signature still admits is always recognised.",
    )
    providers_file: Path | None = Field(None, description="TOML file of signal providers.")
    simulator_config: Path | None = Field(
        None,
        description="TOML file of the fill simulator's models per venue and symbol "
        "(examples/trading/simulator.toml); unset: every symbol, no latency, fees or slippage.",
    )
    simulator_venue: str = Field("sim", description="The venue of the simulator file to use.")
    clock_interval_seconds: float = Field(
        60.0,
        ge=0,
        le=3600,
        description="How often the execution clock writes the time to orders (day orders "
        "expire at their session's close within one interval); 0: no clock.",
    )
    venue: Literal["simulator", "alpaca"] = Field(
        "simulator",
        description="Where orders that pass risk are executed: the fill simulator, or Alpaca "
        "(the ALPACA_* settings; app/venues/service.py).",
    )
    risk_config: Path | None = Field(
        None,
        description="TOML file of pre-trade risk limits (examples/trading/risk.toml); unset: none.",
    )
    routes_file: Path | None = Field(
        None,
        description="TOML file routing strategies to accounts with size multipliers "
        "(examples/trading/routes.toml); unset: a signal trades on its own account.",
    )
    api_token: SecretStr | None = Field(
        None,
        description="Bearer token of the read API and admin endpoints; unset: reads open, "
        "trading writes (kill switch, cancels) disabled.",
    )
    default_rate_limit: float = Field(
        1000.0, ge=0, description="Requests/s of the default provider (burst 2x); 0: unlimited."
    )
    standby_replicas: int = Field(
        1, ge=0, le=8, description="Standby copies of each table partition on other workers."
    )
    fast_restore: bool = Field(
        True, description="Fill local tables from their changelogs before Faust's recovery."
    )
    gc_tuning: bool = Field(
        True, description="Freeze the start-up objects and collect garbage less often."
    )
    rocksdb_write_buffer_mb: int = Field(2, ge=1, le=256)
    rocksdb_block_cache_mb: int = Field(2, ge=1, le=4096)
    session_timeout_seconds: float = Field(
        10.0, ge=6, le=300, description="A dead worker's partitions move after this long."
    )
    max_in_flight: int = Field(
        1024, ge=1, le=100_000, description="Webhook requests handled at once; 503 past it."
    )
    max_body_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024)
    faust_sensors: bool = Field(
        True, description="Export Faust's own sensors (faust_*); they cost CPU per record."
    )
    shutdown_timeout_seconds: float = Field(
        20.0, ge=1, le=600, description="SIGTERM: drain and stop within this, else exit 70."
    )
    stall_seconds: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="An assigned input partition with lag and no commit for this long is "
        "stalled: the worker asks for a rebalance (0: never).",
    )
    test_pause_partition: str | None = Field(
        None,
        pattern=r"^(signals|orders|fills):\d+$",
        description="Reliability suite only: stop fetching this partition (e.g. signals:1) "
        "once, as the stall bug does, so the watchdog can be seen to heal it.",
    )

    # -- audit trail (issue 14; app/audit/) ---------------------------------------------------
    audit_url: SecretStr | None = Field(
        None,
        description="Audit store: sqlite:///path or postgresql://user:pw@host:port/db "
        "(default: sqlite under AT_STREAM_DATA_DIR); a secret (it may hold a password).",
    )
    audit_sink: bool = Field(True, description="Run the audit sink in the worker.")
    audit_batch_records: int = Field(2000, ge=1, le=100_000)
    audit_linger_seconds: float = Field(
        0.5,
        ge=0,
        le=10,
        description="How long the audit sink's fetches wait for records to gather "
        "(1 MiB ends the wait sooner): a fetch and a transaction per linger, not per record.",
    )
    audit_retention_days: float | None = Field(
        None, gt=0, description="Keep audit records this many days (unset: forever)."
    )
    audit_retention_topics: dict[str, float] = Field(
        default_factory=dict,
        description='Per-topic retention in days, JSON: {"dead-letters": 365}.',
    )
    audit_retention_interval_seconds: float = Field(3600.0, ge=1, le=86400 * 7)
    audit_api_host: str = "127.0.0.1"
    audit_api_port: int = Field(8011, ge=1, le=65535)
    # -- end of audit trail -------------------------------------------------------------------
    # -- NATS JetStream bridge (app/bridge; README "NATS bridge") ---------------------------
    bridge_enabled: bool = Field(
        False, description="Run the NATS bridge (make run and compose turn it on)."
    )
    bridge_signals_subject: str = Field("trading.signals", pattern=_SUBJECT_TEMPLATE.pattern)
    bridge_orders_subject: str = Field("trading.orders", pattern=_SUBJECT_TEMPLATE.pattern)
    bridge_fills_subject: str = Field("trading.fills", pattern=_SUBJECT_TEMPLATE.pattern)
    bridge_dead_letters_subject: str = Field(
        "trading.dead-letters", pattern=_SUBJECT_TEMPLATE.pattern
    )
    bridge_inbound_subject: str = Field(
        "trading.signals.in", pattern=_SUBJECT_TEMPLATE.pattern,
        description="Legacy producers publish signals here (no {tokens}).",
    )  # fmt: skip
    bridge_inbound_provider: str = Field(
        "default", description="Provider whose unknown-field policy NATS signals follow."
    )
    bridge_stream_storage: str = Field("file", pattern=r"^(file|memory)$")
    bridge_stream_retention: str = Field("limits", pattern=r"^(limits|interest|workqueue)$")
    bridge_stream_max_age_seconds: float = Field(7 * 86400, gt=0)
    bridge_duplicate_window_seconds: float = Field(
        900, gt=0, description="JetStream drops a Nats-Msg-Id seen within this long."
    )
    bridge_ack_wait_seconds: float = Field(30, gt=0, le=3600)
    bridge_max_ack_pending: int = Field(1000, ge=1, le=1_000_000)
    bridge_max_outstanding_acks: int = Field(1000, ge=1, le=100_000)
    bridge_batch_size: int = Field(500, ge=1, le=10_000)
    bridge_puback_timeout_seconds: float = Field(5, gt=0, le=600)
    bridge_nak_delay_seconds: float = Field(2, ge=0, le=600)
    # -- end of the NATS bridge block --------------------------------------------------------

    # -- Alpaca paper trading venue (app/venues/alpaca.py; README "Alpaca paper trading") ----
    alpaca_api_key_id: SecretStr | None = Field(
        None, validation_alias="ALPACA_API_KEY_ID", description="Alpaca API key id."
    )
    alpaca_api_secret_key: SecretStr | None = Field(
        None, validation_alias="ALPACA_API_SECRET_KEY", description="Alpaca API secret key."
    )
    alpaca_base_url: str = Field(
        "https://paper-api.alpaca.markets",
        validation_alias="ALPACA_BASE_URL",
        description="Alpaca Trading API base URL (default: paper trading).",
    )
    alpaca_request_timeout_seconds: float = Field(10.0, gt=0, le=120)
    alpaca_max_attempts: int = Field(5, ge=1, le=20, description="Attempts per call, retries too.")
    alpaca_backoff_base_seconds: float = Field(0.25, ge=0, le=60)
    alpaca_backoff_max_seconds: float = Field(8.0, ge=0, le=600)
    alpaca_breaker_failures: int = Field(5, ge=1, le=1000)
    alpaca_breaker_cooldown_seconds: float = Field(30.0, ge=0, le=3600)
    alpaca_poll_interval_seconds: float = Field(1.0, ge=0.3, le=60)
    # -- end of the Alpaca block -------------------------------------------------------------

    # -- local broker launcher -------------------------------------------------------------
    broker_dir: Path = Field(Path("var/kafka"), description="Data and pid of the local Kafka.")
    broker_port: int = Field(19092, ge=1024, le=65535, description="Local Kafka's port.")
    broker_heap: str = Field("512m", pattern=r"^\d+[mMgG]$")

    @model_validator(mode="after")
    def _ttl_covers_the_tolerance(self) -> Settings:
        if self.idempotency_ttl_seconds < self.signature_tolerance_seconds:
            raise ValueError(
                f"AT_STREAM_IDEMPOTENCY_TTL_SECONDS ({self.idempotency_ttl_seconds}) must be "
                f"at least AT_STREAM_SIGNATURE_TOLERANCE_SECONDS "
                f"({self.signature_tolerance_seconds}): a replay the signature admits must be "
                "recognised"
            )
        return self

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _bootstrap(cls, value: str | None) -> str | None:
        if value is None:
            return None
        hosts = [h.strip() for h in value.removeprefix("kafka://").split(",") if h.strip()]
        if not hosts or not all(
            _HOST_PORT.fullmatch(h) and 0 < int(h.rsplit(":", 1)[1]) <= 65535 for h in hosts
        ):
            raise ValueError(f"expected host:port[,host:port...], got {value!r}")
        return ",".join(hosts)

    @field_validator("nats_url")
    @classmethod
    def _nats(cls, value: str) -> str:
        parts = urlsplit(value)
        shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()  # no credentials
        if parts.scheme not in {"nats", "tls", "ws", "wss"} or not parts.hostname:
            raise ValueError(f"expected nats://host:port, got {shown!r}")
        try:
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError as exc:
            raise ValueError(f"bad port in {shown!r}") from exc
        return value

    @field_validator("alpaca_base_url")
    @classmethod
    def _alpaca_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query:
            raise ValueError(f"expected https://host[:port], got {value!r}")
        return value.rstrip("/")

    @field_validator("audit_url")
    @classmethod
    def _audit_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            scheme = value.get_secret_value().partition("://")[0]
            if scheme not in {"sqlite", "postgresql", "postgres"}:
                raise ValueError("expected sqlite:///path or postgresql://user@host:port/db")
        return value

    @field_validator("audit_retention_topics")
    @classmethod
    def _retention(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [name for name, days in value.items() if not days > 0]
        if bad:
            raise ValueError(f"days must be > 0 (topic {bad[0]!r})")
        return value

    @field_validator("hmac_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 8:
            raise ValueError("must be at least 8 characters")
        return value

    @property
    def secret(self) -> str:
        """The default provider's secret; ConfigError naming the variable when unset."""
        if self.hmac_secret is None:
            raise ConfigError("API_KEY_HMAC_SECRET", "is not set")
        return self.hmac_secret.get_secret_value()

    def providers(self) -> dict[str, Provider]:
        """Every provider; a worker needs at least one."""
        secret = None if self.hmac_secret is None else self.hmac_secret.get_secret_value()
        found = load_providers(self.providers_file, secret, self.default_rate_limit)
        if not found:
            raise ConfigError("API_KEY_HMAC_SECRET", "is not set (nor AT_STREAM_PROVIDERS_FILE)")
        return found

    @property
    def uses_local_broker(self) -> bool:
        return self.kafka_bootstrap_servers is None

    @property
    def bootstrap(self) -> str:
        """The brokers to use: KAFKA_BOOTSTRAP_SERVERS, else the local launcher's."""
        return self.kafka_bootstrap_servers or f"127.0.0.1:{self.broker_port}"

    @property
    def audit_store_url(self) -> str:
        """AT_STREAM_AUDIT_URL, else the SQLite file ``audit.db`` under the data dir."""
        if self.audit_url is not None:
            return self.audit_url.get_secret_value()
        return f"sqlite:///{(self.data_dir / 'audit.db').resolve()}"

    @property
    def broker_url(self) -> str:
        return ";".join(f"kafka://{h}" for h in self.bootstrap.split(","))


def env_name(field: str) -> str:
    """The environment variable that sets ``field``."""
    info = Settings.model_fields[field]
    alias = info.validation_alias
    return alias if isinstance(alias, str) else f"AT_STREAM_{field.upper()}"


def load_settings() -> Settings:
    """Read the settings; a bad value raises ConfigError naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = err["loc"][0] if err["loc"] else "?"
        name = str(loc) if str(loc).isupper() else env_name(str(loc))
        msg = "is not set" if err["type"] == "missing" else err["msg"]
        raise ConfigError(name, msg) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()

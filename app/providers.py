"""Signal providers: who may post, how they sign, and their limits.

Configured in a TOML file (``AT_STREAM_PROVIDERS_FILE``), plus the single-provider
shortcut ``API_KEY_HMAC_SECRET``, which defines provider ``default`` (scheme ``legacy``)
served at ``POST /webhook/signals``. A provider ``<id>`` from the file is served at
``POST /webhook/signals/<id>``. README.md documents the format.
"""

from __future__ import annotations

import ipaddress
import tomllib
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from app.errors import ConfigError

DEFAULT_PROVIDER = "default"
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Scheme(StrEnum):
    STANDARD_WEBHOOKS = "standard-webhooks"
    LEGACY = "legacy"
    TRADINGVIEW = "tradingview"


class UnknownFields(StrEnum):
    STRICT = "strict"
    LENIENT = "lenient"


class ProviderSecret(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    value: SecretStr
    expires_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at

    @field_validator("value")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 8:
            raise ValueError("a secret must be at least 8 characters")
        return value

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class RateLimit(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    per_second: Annotated[float, Field(gt=0)] = 1000.0
    burst: Annotated[int, Field(ge=1)] = 2000


class Provider(BaseModel):
    """One provider. ``secrets`` may hold several during a rotation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    scheme: Scheme
    secrets: Annotated[tuple[ProviderSecret, ...], Field(min_length=1)]
    allow_ips: tuple[IPNetwork, ...] = ()
    rate_limit: RateLimit | None = Field(RateLimit(), description="None: unlimited")
    unknown_fields: UnknownFields = UnknownFields.STRICT

    def active_secrets(self, now: datetime | None = None) -> list[str]:
        moment = now or datetime.now(UTC)
        return [s.value.get_secret_value() for s in self.secrets if s.active(moment)]

    def ip_allowed(self, ip: str | None) -> bool:
        if not self.allow_ips:
            return True
        if ip is None:
            return False
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self.allow_ips)


class ProvidersFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    providers: list[Provider]


def load_providers(
    path: Path | None, default_secret: str | None, default_rate: float = 1000.0
) -> dict[str, Provider]:
    """All providers by id; ConfigError (one line, naming the file) if any is bad."""
    found: dict[str, Provider] = {}
    if default_secret is not None:
        found[DEFAULT_PROVIDER] = Provider(
            id=DEFAULT_PROVIDER,
            scheme=Scheme.LEGACY,
            secrets=(ProviderSecret(value=SecretStr(default_secret)),),
            rate_limit=RateLimit(per_second=default_rate, burst=int(2 * default_rate) + 1)
            if default_rate > 0
            else None,
        )
    if path is None:
        return found
    try:
        parsed = ProvidersFile.model_validate(tomllib.loads(path.read_text()))
    except FileNotFoundError:
        raise ConfigError("AT_STREAM_PROVIDERS_FILE", f"names a missing file: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("AT_STREAM_PROVIDERS_FILE", f"{path} is not TOML: {exc}") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError("AT_STREAM_PROVIDERS_FILE", f"{path}: {where}: {err['msg']}") from None
    for provider in parsed.providers:
        if provider.id in found:
            raise ConfigError(
                "AT_STREAM_PROVIDERS_FILE", f"{path}: provider {provider.id!r} defined twice"
            )
        found[provider.id] = provider
    return found

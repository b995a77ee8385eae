"""``at-stream config``: the effective configuration, where each value came from, checks.

Every setting is shown with its environment variable, its value and its source:
``env`` (the process environment), ``.env`` (the dotenv file in the working directory)
or ``default``. Secrets are masked (``***`` when set). ``--check`` validates everything
(every setting, and the providers file if one is named) and prints one line per problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values
from pydantic import SecretStr, ValidationError

from app.errors import AtStreamError
from app.settings import Settings, env_name

MASK = "***"


@dataclass(frozen=True)
class Entry:
    variable: str
    value: str
    source: str


def _sources(
    environ: Mapping[str, str], dotenv: Mapping[str, str | None]
) -> dict[str, tuple[str, str]]:
    """Per setting: (its raw text, where it came from), for what is set anywhere."""
    out: dict[str, tuple[str, str]] = {}
    for field in Settings.model_fields:
        name = env_name(field)
        # pydantic-settings reads variable names case-insensitively; we look them up exactly
        if name in environ:
            out[field] = (environ[name], "env")
        elif dotenv.get(name) is not None:
            out[field] = (str(dotenv[name]), ".env")
    return out


def without_password(text: str) -> str:
    """A URL's credentials masked (``NATS_URL`` may carry ``user:password@`` or a token
    ``token@``): the password, or a lone token; other text as it is."""
    if "://" not in text or "@" not in text:
        return text
    parts = urlsplit(text)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return text
    user, colon, _ = userinfo.partition(":")
    masked = f"{user}:{MASK}" if colon else MASK
    return urlunsplit(parts._replace(netloc=f"{masked}@{host}"))


def _shown(value: Any) -> str:
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else "(empty)"
    if value is None:
        return "(unset)"
    return without_password(str(value))


def effective(
    settings: Settings, environ: Mapping[str, str], env_file: Path = Path(".env")
) -> list[Entry]:
    """Every setting: variable, value as the app sees it (secrets masked), source."""
    dotenv = dotenv_values(env_file) if env_file.exists() else {}
    sources = _sources(environ, dotenv)
    return [
        Entry(env_name(f), _shown(getattr(settings, f)), sources.get(f, ("", "default"))[1])
        for f in Settings.model_fields
    ]


def problems() -> list[str]:
    """One line per problem in the configuration, as the worker would read it (empty: valid)."""
    try:
        settings = Settings()
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = str(err["loc"][0]) if err["loc"] else "?"
            name = loc if loc.isupper() else env_name(loc)
            msg = "is not set" if err["type"] == "missing" else err["msg"]
            lines.append(f"{name}: {msg}")
        return lines
    try:
        settings.providers()
    except AtStreamError as exc:
        return [str(exc).removeprefix("configuration error: ")]
    return []


def render(entries: list[Entry]) -> str:
    width = max(len(e.variable) for e in entries)
    return "\n".join(f"{e.variable:<{width}}  {e.value}  ({e.source})" for e in entries)

"""Pure webhook logic: from raw request parts to a verified, validated Signal.

No I/O here; the Faust view reads the body, calls :func:`accept`, and produces.
Order of checks: content type, signature (so unauthenticated callers learn nothing
about the payload), JSON, schema.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from app import signing
from app.errors import InvalidJSON, InvalidSignal, Unauthorized, UnsupportedMediaType
from app.ids import signal_id_for
from app.models import Signal, SignalIn

JSON_TYPES = ("application/json",)


def check_content_type(content_type: str | None) -> None:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media not in JSON_TYPES and not media.endswith("+json"):
        raise UnsupportedMediaType(
            f"content type must be application/json, got {media or 'none'!r}"
        )


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Every field error as ``{"pointer": "/quantity", "detail": "...", "code": "..."}``."""
    out = []
    for err in exc.errors(include_url=False):
        pointer = "/" + "/".join(str(p) for p in err["loc"])
        out.append({"pointer": pointer, "detail": err["msg"], "code": err["type"]})
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(body: bytes) -> Any:
    """Parse JSON losslessly: numbers with a fraction become Decimal, never float."""
    try:
        text = body.decode("utf-8")
        return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise InvalidJSON(f"body is not valid UTF-8: {exc.reason} at byte {exc.start}") from None
    except (ValueError, RecursionError) as exc:
        raise InvalidJSON(f"body is not valid JSON: {exc}") from None


def accept(
    body: bytes,
    headers: Mapping[str, str],
    *,
    secret: str,
    tolerance: int,
    now: datetime | None = None,
) -> Signal:
    """Verify and validate one webhook request; raise a ProblemError if it is bad."""
    check_content_type(headers.get("Content-Type"))
    ts = headers.get(signing.TIMESTAMP_HEADER)
    verdict = signing.verify(
        secret,
        body,
        ts,
        headers.get(signing.SIGNATURE_HEADER),
        tolerance=tolerance,
        now=None if now is None else now.timestamp(),
    )
    if not verdict.ok:
        raise Unauthorized(
            "the request signature is missing, invalid or expired", reason=verdict.reason
        )
    raw = parse_json(body)
    if not isinstance(raw, dict):
        raise InvalidJSON(f"body must be a JSON object, got {type(raw).__name__}")
    try:
        signal_in = SignalIn.model_validate(raw)
    except ValidationError as exc:
        raise InvalidSignal(
            f"{exc.error_count()} field error(s)", errors=field_errors(exc)
        ) from None
    assert ts is not None  # verified above
    return Signal(
        **signal_in.model_dump(),
        signal_id=signal_id_for(signing.signed_payload(ts, body)),
        received_at=now or datetime.now(UTC),
    )

"""The one error root of at-stream. Errors carry data; the HTTP layer renders them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

PROBLEM_BASE = "https://at-stream.dev/problems/"


class AtStreamError(Exception):
    """Root of every error at-stream raises on purpose."""


class ConfigError(AtStreamError):
    """A setting is missing or malformed."""

    def __init__(self, variable: str, reason: str) -> None:
        self.variable = variable
        self.reason = reason
        super().__init__(f"configuration error: {variable} {reason}")


class BrokerError(AtStreamError):
    """The local broker could not be set up, started or reached."""


class DecodeError(AtStreamError):
    """A topic record could not be decoded into its event type."""

    def __init__(self, topic: str, reason: str) -> None:
        self.topic = topic
        self.reason = reason
        super().__init__(f"{topic}: {reason}")


class ProblemError(AtStreamError):
    """An HTTP error, rendered as RFC 9457 ``application/problem+json``."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[Mapping[str, Any]] = (),
        headers: Mapping[str, str] | None = None,
        reason: str | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        self.detail = detail
        self.extensions = dict(extensions or {})  # RFC 9457 extension members
        self.reason = reason or self.slug  # specific, for logs and metrics only
        self.errors = list(errors)
        self.headers = dict(headers or {})
        super().__init__(detail)

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.slug

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        body.update({k: v for k, v in self.extensions.items() if k not in body})
        return body


class InvalidJSON(ProblemError):
    status, slug, title = 400, "invalid-json", "Body is not valid JSON"


class InvalidHeader(ProblemError):
    status, slug, title = 400, "invalid-header", "A request header is malformed"


class InvalidQuery(ProblemError):
    status, slug, title = 400, "invalid-query", "A query parameter is missing or malformed"


class MalformedRequest(ProblemError):
    status, slug, title = 400, "malformed-request", "The HTTP request could not be parsed"


class InternalError(ProblemError):
    status, slug, title = 500, "internal-error", "Internal error"


class Unauthorized(ProblemError):
    status, slug, title = 401, "unauthorized", "Signature verification failed"


class TokenRequired(ProblemError):
    status, slug, title = 401, "token-required", "A valid API token is required"


class Forbidden(ProblemError):
    status, slug, title = 403, "forbidden", "Source not allowed"


class NotFound(ProblemError):
    status, slug, title = 404, "not-found", "Not found"


class RequestTimeout(ProblemError):
    status, slug, title = 408, "request-timeout", "The request body was not received in time"


class PayloadTooLarge(ProblemError):
    status, slug, title = 413, "payload-too-large", "Body is too large"


class UnsupportedMediaType(ProblemError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported content type"


class Conflict(ProblemError):
    status, slug, title = 409, "request-in-flight", "A request with this key is in flight"


class IdempotencyKeyReused(ProblemError):
    status, slug, title = 422, "idempotency-key-reused", "Key reused with another payload"


class InvalidSignal(ProblemError):
    status, slug, title = 422, "invalid-signal", "Signal failed validation"


class RateLimited(ProblemError):
    status, slug, title = 429, "rate-limited", "Too many requests"


class NotReady(ProblemError):
    status, slug, title = 503, "not-ready", "Worker is not ready"


class Overloaded(ProblemError):
    status, slug, title = 503, "overloaded", "Too many requests in flight"


class BrokerUnavailable(ProblemError):
    status, slug, title = 503, "broker-unavailable", "Broker did not acknowledge the write"


class InvalidRequest(ProblemError):
    status, slug, title = 422, "invalid-request", "Request body failed validation"


class WritesDisabled(ProblemError):
    status, slug, title = 403, "writes-disabled", "Writes need an API token"


class OrderNotOpen(ProblemError):
    status, slug, title = 409, "order-not-open", "The order is not open"

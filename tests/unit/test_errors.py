"""Unit tests of app.errors: the error root and RFC 9457 problem documents."""

from __future__ import annotations

import json

import pytest

from app import errors
from app.errors import (
    PROBLEM_BASE,
    AtStreamError,
    BrokerError,
    BrokerUnavailable,
    ConfigError,
    Conflict,
    DecodeError,
    Forbidden,
    IdempotencyKeyReused,
    InternalError,
    InvalidHeader,
    InvalidJSON,
    InvalidQuery,
    InvalidRequest,
    InvalidSignal,
    MalformedRequest,
    NotFound,
    NotReady,
    OrderNotOpen,
    Overloaded,
    PayloadTooLarge,
    ProblemError,
    RateLimited,
    RequestTimeout,
    TokenRequired,
    Unauthorized,
    UnsupportedMediaType,
    WritesDisabled,
)

PROBLEMS: list[tuple[type[ProblemError], int, str]] = [
    (ProblemError, 400, "bad-request"),
    (InvalidJSON, 400, "invalid-json"),
    (InvalidHeader, 400, "invalid-header"),
    (Unauthorized, 401, "unauthorized"),
    (InvalidQuery, 400, "invalid-query"),
    (MalformedRequest, 400, "malformed-request"),
    (InternalError, 500, "internal-error"),
    (RequestTimeout, 408, "request-timeout"),
    (TokenRequired, 401, "token-required"),
    (Forbidden, 403, "forbidden"),
    (NotFound, 404, "not-found"),
    (Conflict, 409, "request-in-flight"),
    (PayloadTooLarge, 413, "payload-too-large"),
    (UnsupportedMediaType, 415, "unsupported-media-type"),
    (InvalidSignal, 422, "invalid-signal"),
    (IdempotencyKeyReused, 422, "idempotency-key-reused"),
    (InvalidRequest, 422, "invalid-request"),
    (OrderNotOpen, 409, "order-not-open"),
    (WritesDisabled, 403, "writes-disabled"),
    (RateLimited, 429, "rate-limited"),
    (NotReady, 503, "not-ready"),
    (Overloaded, 503, "overloaded"),
    (BrokerUnavailable, 503, "broker-unavailable"),
]


@pytest.mark.parametrize(("cls", "status", "slug"), PROBLEMS)
def test_status_and_slug(cls: type[ProblemError], status: int, slug: str) -> None:
    exc = cls("something went wrong")
    assert exc.status == status
    assert exc.slug == slug
    assert exc.type == PROBLEM_BASE + slug
    assert exc.title
    assert isinstance(exc, ProblemError)
    assert isinstance(exc, AtStreamError)


def test_slugs_and_titles_are_unique() -> None:
    assert len({cls.slug for cls, _, _ in PROBLEMS}) == len(PROBLEMS)
    assert len({cls.title for cls, _, _ in PROBLEMS}) == len(PROBLEMS)


def test_every_problem_class_is_listed_here() -> None:
    """A new ProblemError subclass gets a row in PROBLEMS (and so these tests)."""
    defined = {
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type) and issubclass(obj, ProblemError)
    }
    assert defined == {cls for cls, _, _ in PROBLEMS}


def test_every_status_is_an_http_error() -> None:
    for cls, status, _ in PROBLEMS:
        assert 400 <= cls.status <= 599
        assert cls.status == status


@pytest.mark.parametrize(("cls", "status", "slug"), PROBLEMS)
def test_to_problem_has_the_rfc_9457_members(
    cls: type[ProblemError], status: int, slug: str
) -> None:
    problem = cls("the detail").to_problem()
    assert problem == {
        "type": f"https://at-stream.dev/problems/{slug}",
        "title": cls.title,
        "status": status,
        "detail": "the detail",
    }
    json.dumps(problem)


def test_to_problem_includes_errors_when_present() -> None:
    errors = [{"pointer": "/quantity", "detail": "must be > 0", "code": "greater_than"}]
    problem = InvalidSignal("1 field error(s)", errors=errors).to_problem()
    assert problem["errors"] == errors
    assert problem["status"] == 422


def test_to_problem_omits_empty_errors() -> None:
    assert "errors" not in InvalidSignal("x", errors=[]).to_problem()


def test_to_problem_with_instance() -> None:
    problem = NotFound("no such thing").to_problem("/signals/42")
    assert problem["instance"] == "/signals/42"
    assert "instance" not in NotFound("no such thing").to_problem()
    assert "instance" not in NotFound("no such thing").to_problem("")


def test_reason_defaults_to_slug_and_stays_out_of_the_problem() -> None:
    assert Unauthorized("x").reason == "unauthorized"
    exc = Unauthorized("generic detail", reason="timestamp-out-of-tolerance")
    assert exc.reason == "timestamp-out-of-tolerance"
    assert "timestamp-out-of-tolerance" not in json.dumps(exc.to_problem())


def test_detail_is_the_message() -> None:
    exc = PayloadTooLarge("body exceeds 65536 bytes")
    assert str(exc) == "body exceeds 65536 bytes"
    assert exc.detail == "body exceeds 65536 bytes"


def test_headers_and_errors_are_copied() -> None:
    headers = {"Retry-After": "5"}
    errors = [{"pointer": "/a", "detail": "d", "code": "c"}]
    exc = BrokerUnavailable("later", headers=headers, errors=errors)
    headers["X-Other"] = "1"
    errors.append({"pointer": "/b", "detail": "d", "code": "c"})
    assert exc.headers == {"Retry-After": "5"}
    assert len(exc.errors) == 1
    exc.headers["X-Correlation-ID"] = "abcdefgh"
    assert BrokerUnavailable("later").headers == {}


def test_each_instance_has_its_own_headers() -> None:
    a, b = InvalidJSON("a"), InvalidJSON("b")
    a.headers["X"] = "1"
    assert b.headers == {}


def test_errors_accepts_any_sequence_of_mappings() -> None:
    exc = InvalidSignal("x", errors=({"pointer": "/a"},))
    assert exc.errors == [{"pointer": "/a"}]
    assert isinstance(exc.errors, list)


def test_problem_errors_are_catchable_as_at_stream_errors() -> None:
    with pytest.raises(AtStreamError):
        raise InvalidSignal("x")


def test_config_error() -> None:
    exc = ConfigError("NATS_URL", "is not set")
    assert exc.variable == "NATS_URL"
    assert exc.reason == "is not set"
    assert str(exc) == "configuration error: NATS_URL is not set"
    assert isinstance(exc, AtStreamError)


def test_decode_error() -> None:
    exc = DecodeError("orders", "record has no value (tombstone)")
    assert exc.topic == "orders"
    assert exc.reason == "record has no value (tombstone)"
    assert str(exc) == "orders: record has no value (tombstone)"
    assert isinstance(exc, AtStreamError)


def test_broker_error_is_an_at_stream_error() -> None:
    assert issubclass(BrokerError, AtStreamError)
    assert not issubclass(BrokerError, ProblemError)

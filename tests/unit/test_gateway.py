"""Unit tests of app.gateway.accept: raw request parts in, a verified Signal out.

Most tests use the ``legacy`` scheme (app.signing) of the ``default`` provider; a few
cover the Standard Webhooks and TradingView schemes and the provider options.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from app.decimals import plain
from app.errors import (
    Forbidden,
    InvalidJSON,
    InvalidSignal,
    ProblemError,
    Unauthorized,
    UnsupportedMediaType,
)
from app.gateway import MAX_DEPTH, Accepted, accept, check_content_type, field_errors, parse_json
from app.ids import derive
from app.models import OrderType, Side, Signal, SignalIn
from app.providers import Provider, Scheme
from app.schemes import SW_ID, SW_SIGNATURE, SW_TIMESTAMP, sw_sign
from app.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

# Properties: enough examples to matter, few enough to keep the suite fast.
PROPERTY = settings(max_examples=200, deadline=None, database=None)

SECRET = "gateway-test-secret-0123456789"
TS = 1_700_000_000
NOW = datetime.fromtimestamp(TS, UTC)
TOLERANCE = 300

GOOD: dict[str, Any] = {
    "symbol": "AAPL",
    "side": "buy",
    "quantity": "10",
    "order_type": "market",
    "price": "187.25",
    "account": "acct-1",
    "strategy": "momentum",
}


def _provider(scheme: str = "legacy", **fields: Any) -> Provider:
    data: dict[str, Any] = {"id": "default", "scheme": scheme, "secrets": [{"value": SECRET}]}
    data.update(fields)
    return Provider.model_validate(data)


LEGACY = _provider()


def _body(data: Any = None, **overrides: Any) -> bytes:
    payload = dict(GOOD if data is None else data)
    payload.update(overrides)
    return json.dumps(payload).encode()


def _headers(
    body: bytes,
    *,
    ts: int = TS,
    secret: str = SECRET,
    content_type: str | None = "application/json",
) -> dict[str, str]:
    timestamp, signature = sign(secret, body, ts)
    headers = {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return headers


def _accept(
    body: bytes,
    headers: dict[str, str] | None = None,
    provider: Provider = LEGACY,
    **kw: Any,
) -> Accepted:
    kw.setdefault("tolerance", TOLERANCE)
    kw.setdefault("now", NOW)
    return accept(provider, body, _headers(body) if headers is None else headers, **kw)


def _signal(body: bytes, headers: dict[str, str] | None = None, **kw: Any) -> Signal:
    return _accept(body, headers, **kw).signal


def _refused(body: bytes, headers: dict[str, str] | None = None, **kw: Any) -> ProblemError:
    with pytest.raises(ProblemError) as info:
        _accept(body, headers, **kw)
    return info.value


# -- the good request -----------------------------------------------------------------------


def test_good_request_returns_a_signal() -> None:
    accepted = _accept(_body())
    signal = accepted.signal
    assert isinstance(signal, Signal)
    assert signal.symbol == "AAPL"
    assert signal.side is Side.BUY
    assert signal.quantity == Decimal("10")
    assert signal.order_type is OrderType.MARKET
    assert signal.price == Decimal("187.25")
    assert signal.account == "acct-1"
    assert signal.strategy == "momentum"
    assert signal.received_at == NOW
    assert signal.provider == "default"
    assert signal.unknown_fields == {}
    assert signal.v == 1


def test_signal_id_derives_from_the_dedupe_key() -> None:
    accepted = _accept(_body())
    assert accepted.dedupe_key.startswith("default:")
    assert accepted.signal.signal_id == derive("signal", accepted.dedupe_key)
    assert len(accepted.fingerprint) == 64


def test_good_limit_request() -> None:
    signal = _signal(_body(order_type="limit", limit_price="180.5"))
    assert signal.order_type is OrderType.LIMIT
    assert signal.limit_price == Decimal("180.5")


def test_same_signed_bytes_give_the_same_signal_id() -> None:
    body = _body()
    headers = _headers(body)
    first = _accept(body, headers)
    later = _accept(body, headers, now=NOW + timedelta(seconds=30))
    assert first.signal.signal_id == later.signal.signal_id
    assert first.dedupe_key == later.dedupe_key
    assert first.fingerprint == later.fingerprint
    assert first.signal.received_at != later.signal.received_at


def test_different_timestamp_gives_a_different_signal_id() -> None:
    body = _body()
    first = _accept(body, _headers(body, ts=TS))
    second = _accept(body, _headers(body, ts=TS + 1))
    assert first.signal.signal_id != second.signal.signal_id
    assert first.fingerprint == second.fingerprint


def test_other_bytes_of_the_same_json_give_another_id_but_the_same_fingerprint() -> None:
    a = json.dumps(GOOD).encode()
    b = json.dumps(dict(reversed(list(GOOD.items()))), indent=2).encode()
    first, second = _accept(a), _accept(b)
    assert first.signal.signal_id != second.signal.signal_id
    assert first.fingerprint == second.fingerprint


def test_different_payload_gives_a_different_fingerprint() -> None:
    assert _accept(_body()).fingerprint != _accept(_body(quantity="11")).fingerprint


def test_idempotency_key_decides_the_signal_id() -> None:
    body = _body()
    a = _accept(body, _headers(body, ts=TS), idempotency_key="order-42")
    b = _accept(body, _headers(body, ts=TS + 5), idempotency_key="order-42")
    c = _accept(body, _headers(body, ts=TS), idempotency_key="order-43")
    assert a.signal.signal_id == b.signal.signal_id
    assert a.signal.signal_id != c.signal.signal_id
    assert a.dedupe_key == "default:idem:order-42"


def test_received_at_defaults_to_now() -> None:
    body = _body()
    ts = int(datetime.now(UTC).timestamp())
    before = datetime.now(UTC)
    signal = accept(LEGACY, body, _headers(body, ts=ts), tolerance=TOLERANCE).signal
    after = datetime.now(UTC)
    assert before <= signal.received_at <= after


def test_provider_timestamp_is_kept() -> None:
    signal = _signal(_body(timestamp="2023-11-14T22:13:00+01:00"))
    assert signal.timestamp == datetime(2023, 11, 14, 21, 13, tzinfo=UTC)


def test_signal_bytes_are_stable_for_the_same_request() -> None:
    body = _body()
    assert _signal(body).dumps() == _signal(body).dumps()


# -- decimals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "literal",
    ["0.123456789012", "12345678901234.123456789012", "0.1", "1.10", "1e-12", "9999999999999999"],
)
def test_decimals_sent_as_json_numbers_are_exact(literal: str) -> None:
    raw = (
        b'{"symbol":"AAPL","side":"buy","quantity":' + literal.encode() + b',"price":'
        + literal.encode() + b',"account":"a","strategy":"s"}'
    )  # fmt: skip
    signal = _signal(raw)
    assert signal.quantity == Decimal(literal)
    assert str(signal.quantity) == str(Decimal(literal))
    assert json.loads(signal.dumps())["price"] == plain(Decimal(literal))  # never "1E-12"


def test_decimals_sent_as_strings_are_exact() -> None:
    signal = _signal(_body(quantity="0.123456789012", price="100.000000000001"))
    assert signal.quantity == Decimal("0.123456789012")
    assert signal.price == Decimal("100.000000000001")


def test_thirteen_decimal_places_are_refused_not_rounded() -> None:
    raw = (
        b'{"symbol":"AAPL","side":"buy","quantity":0.1234567890123,"price":1,'
        b'"account":"a","strategy":"s"}'
    )
    exc = _refused(raw)
    assert isinstance(exc, InvalidSignal)
    assert [e["pointer"] for e in exc.errors] == ["/quantity"]


def test_integer_quantity() -> None:
    raw = b'{"symbol":"AAPL","side":"buy","quantity":5,"price":2,"account":"a","strategy":"s"}'
    signal = _signal(raw)
    assert signal.quantity == Decimal(5)
    assert json.loads(signal.dumps())["quantity"] == "5"


def test_parse_json_never_makes_floats() -> None:
    parsed = parse_json(b'{"a": 0.1, "b": [1.5e3, 2], "c": {"d": -0.0}}')
    assert parsed == {"a": Decimal("0.1"), "b": [Decimal("1.5e3"), 2], "c": {"d": Decimal("-0.0")}}
    assert isinstance(parsed["a"], Decimal)
    assert isinstance(parsed["b"][1], int)


# -- 403 -------------------------------------------------------------------------------------


def test_ip_allowlist() -> None:
    provider = _provider(allow_ips=["10.0.0.0/8", "2001:db8::/32"])
    body = _body()
    assert _accept(body, provider=provider, client_ip="10.1.2.3").signal.symbol == "AAPL"
    assert _accept(body, provider=provider, client_ip="2001:db8::1").signal.symbol == "AAPL"
    for ip in (None, "192.168.0.1", "not-an-ip", ""):
        exc = _refused(body, provider=provider, client_ip=ip)
        assert isinstance(exc, Forbidden)
        assert exc.status == 403
        assert exc.reason == "ip-not-allowed"


def test_ip_is_checked_before_anything_else() -> None:
    provider = _provider(allow_ips=["10.0.0.0/8"])
    exc = _refused(b"junk", {"Content-Type": "text/plain"}, provider=provider, client_ip="1.1.1.1")
    assert exc.status == 403


# -- 415 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        " application/json ",
        "application/vnd.api+json",
        "application/problem+json;charset=UTF-8",
    ],
)
def test_json_content_types_are_accepted(content_type: str) -> None:
    check_content_type(content_type, Scheme.LEGACY)
    body = _body()
    assert _signal(body, _headers(body, content_type=content_type)).symbol == "AAPL"


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "text/plain",
        "text/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "application/jsonp",
        "application/json-patch",
        "application/xml",
        ";application/json",
    ],
)
def test_other_content_types_are_415(content_type: str | None) -> None:
    body = _body()
    exc = _refused(body, _headers(body, content_type=content_type))
    assert isinstance(exc, UnsupportedMediaType)
    assert exc.status == 415
    with pytest.raises(UnsupportedMediaType):
        check_content_type(content_type, Scheme.LEGACY)
    with pytest.raises(UnsupportedMediaType):
        check_content_type(content_type, Scheme.STANDARD_WEBHOOKS)


def test_text_plain_only_for_tradingview() -> None:
    check_content_type("text/plain; charset=utf-8", Scheme.TRADINGVIEW)
    with pytest.raises(UnsupportedMediaType):
        check_content_type("text/html", Scheme.TRADINGVIEW)


def test_content_type_is_checked_before_the_signature() -> None:
    exc = _refused(b"junk", {"Content-Type": "text/plain"})
    assert exc.status == 415


def test_415_detail_names_the_media_type() -> None:
    body = _body()
    exc = _refused(body, _headers(body, content_type="Text/Plain; charset=x"))
    assert "'text/plain'" in exc.detail
    assert "'none'" in _refused(body, _headers(body, content_type=None)).detail


# -- 401 -------------------------------------------------------------------------------------


def _unauthorized(body: bytes, headers: dict[str, str], **kw: Any) -> Unauthorized:
    exc = _refused(body, headers, **kw)
    assert isinstance(exc, Unauthorized)
    assert exc.status == 401
    return exc


def test_missing_timestamp_header() -> None:
    body = _body()
    headers = _headers(body)
    del headers[TIMESTAMP_HEADER]
    assert _unauthorized(body, headers).reason == "missing-header"


def test_missing_signature_header() -> None:
    body = _body()
    headers = _headers(body)
    del headers[SIGNATURE_HEADER]
    assert _unauthorized(body, headers).reason == "missing-header"


@pytest.mark.parametrize("timestamp", ["abc", "-1", "1700000000.0", "1" * 13, ""])
def test_bad_timestamp_header(timestamp: str) -> None:
    body = _body()
    headers = _headers(body) | {TIMESTAMP_HEADER: timestamp}
    expected = "missing-header" if not timestamp else "bad-timestamp"
    assert _unauthorized(body, headers).reason == expected


def test_non_ascii_digit_timestamp_is_401() -> None:
    """Regression: this used to escape accept() as UnicodeEncodeError (a 500)."""
    body = _body()
    headers = _headers(body) | {TIMESTAMP_HEADER: "\uff11\uff17\uff10\uff10"}
    assert _unauthorized(body, headers).reason == "bad-timestamp"


def test_bad_signature_prefix() -> None:
    body = _body()
    headers = _headers(body)
    headers[SIGNATURE_HEADER] = headers[SIGNATURE_HEADER].replace("sha256=", "sha1=")
    assert _unauthorized(body, headers).reason == "bad-signature-format"


def test_tampered_body() -> None:
    body = _body()
    headers = _headers(body)
    assert _unauthorized(_body(quantity="1000"), headers).reason == "mismatch"


def test_wrong_secret() -> None:
    body = _body()
    assert _unauthorized(body, _headers(body, secret="not-the-secret")).reason == "mismatch"


def test_truncated_signature() -> None:
    body = _body()
    headers = _headers(body)
    headers[SIGNATURE_HEADER] = headers[SIGNATURE_HEADER][:-1]
    assert _unauthorized(body, headers).reason == "mismatch"


@pytest.mark.parametrize("skew", [TOLERANCE + 1, -(TOLERANCE + 1), 86_400])
def test_expired_or_future_timestamp(skew: int) -> None:
    body = _body()
    exc = _unauthorized(body, _headers(body), now=NOW + timedelta(seconds=skew))
    assert exc.reason == "timestamp-out-of-tolerance"


@pytest.mark.parametrize("skew", [TOLERANCE, -TOLERANCE])
def test_timestamp_exactly_at_tolerance_is_accepted(skew: int) -> None:
    body = _body()
    assert _signal(body, now=NOW + timedelta(seconds=skew)).symbol == "AAPL"


def test_tolerance_argument_is_used() -> None:
    body = _body()
    exc = _unauthorized(body, _headers(body), tolerance=5, now=NOW + timedelta(seconds=6))
    assert exc.reason == "timestamp-out-of-tolerance"


def test_any_active_secret_verifies_during_a_rotation() -> None:
    provider = _provider(secrets=[{"value": "old-secret-0000"}, {"value": SECRET}])
    body = _body()
    assert _accept(body, _headers(body, secret="old-secret-0000"), provider=provider)
    assert _accept(body, _headers(body, secret=SECRET), provider=provider)


def test_expired_secret_no_longer_verifies() -> None:
    expired = NOW - timedelta(seconds=1)
    provider = _provider(
        secrets=[{"value": "old-secret-0000", "expires_at": expired}, {"value": SECRET}]
    )
    body = _body()
    exc = _unauthorized(body, _headers(body, secret="old-secret-0000"), provider=provider)
    assert exc.reason == "mismatch"
    only_expired = _provider(secrets=[{"value": SECRET, "expires_at": expired}])
    exc = _unauthorized(body, _headers(body), provider=only_expired)
    assert exc.reason == "no-active-secret"


def test_401_detail_does_not_leak_the_reason() -> None:
    body = _body()
    no_ts = _headers(body)
    del no_ts[TIMESTAMP_HEADER]
    a = _unauthorized(body, no_ts)
    b = _unauthorized(body, _headers(body, secret="wrong-secret"))
    assert a.detail == b.detail
    for exc in (a, b):
        problem = exc.to_problem()
        assert exc.reason not in json.dumps(problem)
        assert problem["status"] == 401


def test_signature_is_checked_before_json() -> None:
    body = b"{not json"
    headers = _headers(b"something else")
    assert _unauthorized(body, headers).reason == "mismatch"


def test_signature_is_checked_before_schema() -> None:
    body = _body(quantity="-1")
    assert _unauthorized(body, _headers(body, secret="other-secret")).reason == "mismatch"


def test_unsigned_nonce_does_not_change_the_delivery() -> None:
    """Regression: an unsigned X-Signature-Nonce used to make a replay a new delivery."""
    body = _body()
    headers = _headers(body)
    original = _accept(body, headers)
    replayed = _accept(body, headers | {"X-Signature-Nonce": "attacker-chosen"})
    assert replayed.dedupe_key == original.dedupe_key


# -- 400 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"\xff\xfe{}", "UTF-8"),
        (b'{"symbol": "\xe9"}', "UTF-8"),
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b"{'a': 1}", "not valid JSON"),
        (b'{"a": 1,}', "not valid JSON"),
        (b'{"a": 1} trailing', "not valid JSON"),
        (b'{"quantity": NaN}', "NaN"),
        (b'{"quantity": Infinity}', "Infinity"),
        (b'{"quantity": -Infinity}', "-Infinity"),
        (b'{"quantity": 1, "quantity": 2}', "duplicate key"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON"),
        (b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1), "deeper"),
    ],
    ids=[
        "bom-like",
        "latin-1",
        "empty",
        "truncated",
        "single-quotes",
        "trailing-comma",
        "trailing-garbage",
        "nan",
        "infinity",
        "minus-infinity",
        "duplicate-key",
        "very-deep",
        "too-deep",
    ],
)
def test_invalid_json_is_400(body: bytes, fragment: str) -> None:
    exc = _refused(body)
    assert isinstance(exc, InvalidJSON)
    assert exc.status == 400
    assert exc.reason == "invalid-json"
    assert fragment in exc.detail


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"quantity": 1' + b"0" * 5000 + b"}",
         "body is not valid JSON: a number has too many digits"),
        (b"[" * 100_000 + b"]" * 100_000, f"JSON is nested deeper than {MAX_DEPTH} levels"),
        (b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1),
         f"JSON is nested deeper than {MAX_DEPTH} levels"),
    ],
    ids=["integer-digit-limit", "recursion-depth", "too-deep"],
)  # fmt: skip
def test_json_errors_name_no_python_internals(body: bytes, detail: str) -> None:
    """What was wrong with the input, not Python's messages (int_max_str_digits, recursion)."""
    exc = _refused(body)
    assert isinstance(exc, InvalidJSON)
    assert exc.detail == detail
    for internal in ("sys.", "set_int_max_str_digits", "4300", "recursion", "Traceback"):
        assert internal not in exc.detail


def test_nesting_up_to_the_limit_parses() -> None:
    nested = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert parse_json(nested) is not None


@pytest.mark.parametrize(
    ("body", "kind"),
    [(b"[]", "list"), (b'"x"', "str"), (b"1", "int"), (b"1.5", "Decimal"), (b"null", "NoneType"),
     (b"true", "bool")],
)  # fmt: skip
def test_non_object_json_is_400(body: bytes, kind: str) -> None:
    exc = _refused(body)
    assert isinstance(exc, InvalidJSON)
    assert exc.detail == f"body must be a JSON object, got {kind}"


def test_parse_json_error_types() -> None:
    with pytest.raises(InvalidJSON):
        parse_json(b"\x80")
    with pytest.raises(InvalidJSON):
        parse_json(b"NaN")
    assert parse_json(b'{"a":"\\u00e9"}') == {"a": "\u00e9"}


# -- 422 -------------------------------------------------------------------------------------


def _invalid(body: bytes, **kw: Any) -> InvalidSignal:
    exc = _refused(body, **kw)
    assert isinstance(exc, InvalidSignal)
    assert exc.status == 422
    for error in exc.errors:
        assert set(error) == {"pointer", "detail", "code"}
        assert str(error["pointer"]).startswith("/")
        assert error["detail"]
        assert error["code"]
    return exc


@pytest.mark.parametrize(
    ("override", "pointer"),
    [
        ({"quantity": "-1"}, "/quantity"),
        ({"quantity": 0}, "/quantity"),
        ({"quantity": "NaN"}, "/quantity"),
        ({"quantity": "Infinity"}, "/quantity"),
        ({"quantity": " 10 "}, "/quantity"),  # outside the published pattern: refused
        ({"quantity": "+10"}, "/quantity"),
        ({"quantity": "1e3"}, "/quantity"),
        ({"quantity": "1E-7"}, "/quantity"),
        ({"price": "abc"}, "/price"),
        ({"symbol": "aapl"}, "/symbol"),
        ({"side": "hold"}, "/side"),
        ({"order_type": "trailing-moon"}, "/order_type"),
        ({"account": ""}, "/account"),
        ({"strategy": "has space"}, "/strategy"),
        ({"timestamp": "yesterday"}, "/timestamp"),
        ({"extra": 1}, "/extra"),
    ],
)
def test_field_error_has_a_pointer(override: dict[str, Any], pointer: str) -> None:
    exc = _invalid(_body(**override))
    assert [e["pointer"] for e in exc.errors] == [pointer]
    assert exc.detail == "1 field error(s)"


def test_missing_fields_are_each_reported() -> None:
    exc = _invalid(b"{}")
    pointers = {e["pointer"] for e in exc.errors}
    assert pointers == {"/symbol", "/side", "/quantity", "/account", "/strategy"}
    assert {e["code"] for e in exc.errors} == {"missing"}
    assert exc.detail == "5 field error(s)"


def test_every_field_error_is_reported() -> None:
    exc = _invalid(
        _body(symbol="bad", side="hold", quantity="-1", price="x", account="", extra=True)
    )
    pointers = [e["pointer"] for e in exc.errors]
    assert sorted(pointers) == sorted(
        ["/symbol", "/side", "/quantity", "/price", "/account", "/extra"]
    )
    assert exc.detail == f"{len(pointers)} field error(s)"
    problem = exc.to_problem()
    assert problem["errors"] == exc.errors
    json.dumps(problem)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({k: v for k, v in GOOD.items() if k != "price"}, "price"),
        ({**GOOD, "order_type": "limit", "price": "1"}, "limit_price is required"),
        ({**GOOD, "limit_price": "1"}, "limit_price"),
    ],
)
def test_cross_field_errors_are_422(data: dict[str, Any], fragment: str) -> None:
    exc = _invalid(_body(data))
    assert len(exc.errors) == 1
    assert fragment in str(exc.errors[0]["detail"])


def test_nested_error_pointer() -> None:
    exc = _invalid(_body(symbol=["AAPL"]))
    assert exc.errors[0]["pointer"] == "/symbol"


def test_field_errors_joins_locations() -> None:
    with pytest.raises(ValidationError) as info:
        SignalIn.model_validate({**GOOD, "quantity": "-1", "side": "x"})
    errors = field_errors(info.value)
    assert {e["pointer"] for e in errors} == {"/quantity", "/side"}
    assert {e["code"] for e in errors} == {"greater_than", "enum"}


def test_field_error_pointer_escapes_json_pointer_characters() -> None:
    """Pointers are RFC 6901: '~' is '~0' and '/' is '~1' inside a key."""
    exc = _invalid(_body(**{"a/b": 1, "c~d": 2}))
    assert {e["pointer"] for e in exc.errors} == {"/a~1b", "/c~0d"}


def test_lenient_provider_keeps_unknown_fields() -> None:
    provider = _provider(unknown_fields="lenient")
    signal = _signal(_body(note="hello", leverage=2), provider=provider)
    assert signal.unknown_fields == {"note": "hello", "leverage": 2}
    exc = _invalid(_body(quantity="-1", note="x"), provider=provider)
    assert [e["pointer"] for e in exc.errors] == ["/quantity"]


# -- other schemes ----------------------------------------------------------------------------


SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _standard(body: bytes, msg_id: str = "msg_1", ts: int = TS) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        SW_ID: msg_id,
        SW_TIMESTAMP: str(ts),
        SW_SIGNATURE: sw_sign(SW_SECRET, msg_id, str(ts), body),
    }


def test_standard_webhooks_delivery_id_is_the_message_id() -> None:
    provider = _provider("standard-webhooks", secrets=[{"value": SW_SECRET}])
    body = _body()
    first = _accept(body, _standard(body, "msg_1"), provider=provider)
    retry = _accept(body, _standard(body, "msg_1", TS + 10), provider=provider)
    other = _accept(body, _standard(body, "msg_2"), provider=provider)
    assert first.signal.signal_id == retry.signal.signal_id
    assert first.signal.signal_id != other.signal.signal_id
    headers = _standard(body) | {SW_SIGNATURE: "v1,AAAA"}
    assert _unauthorized(body, headers, provider=provider).reason == "mismatch"


def test_tradingview_secret_field_is_stripped() -> None:
    provider = _provider("tradingview", id="tv", unknown_fields="lenient")
    body = _body(secret=SECRET, note="n")
    signal = _signal(body, {"Content-Type": "text/plain"}, provider=provider)
    assert signal.provider == "tv"
    assert "secret" not in signal.unknown_fields
    assert SECRET.encode() not in signal.dumps()
    wrong = _body(secret="wrong-secret-value")
    exc = _unauthorized(wrong, {"Content-Type": "text/plain"}, provider=provider)
    assert exc.reason == "mismatch"


# -- property ---------------------------------------------------------------------------


@settings(parent=PROPERTY, max_examples=100)
@given(
    quantity=st.decimals(
        min_value=Decimal("0.000000000001"),
        max_value=Decimal("1e15"),
        places=12,
        allow_nan=False,
        allow_infinity=False,
    ),
    as_number=st.booleans(),
    skew=st.integers(-TOLERANCE, TOLERANCE),
)
def test_property_valid_requests_are_accepted_exactly(
    quantity: Decimal, as_number: bool, skew: int
) -> None:
    text = str(quantity) if as_number else plain(quantity)  # a JSON number may have an exponent
    value = text.encode() if as_number else json.dumps(text).encode()
    body = (
        b'{"symbol":"AAPL","side":"sell","quantity":' + value
        + b',"price":"1","account":"a","strategy":"s"}'
    )  # fmt: skip
    accepted = accept(
        LEGACY, body, _headers(body), tolerance=TOLERANCE, now=NOW + timedelta(seconds=skew)
    )
    assert accepted.signal.quantity == quantity
    assert str(accepted.signal.quantity) == str(Decimal(text))
    assert json.loads(accepted.signal.dumps())["quantity"] == plain(quantity)
    again = accept(LEGACY, body, _headers(body), tolerance=TOLERANCE, now=NOW)
    assert again.signal.signal_id == accepted.signal.signal_id


# -- delivery identity ------------------------------------------------------------------


def test_legacy_retry_signed_again_with_its_correlation_id_is_the_same_delivery() -> None:
    body = _body()
    first = _accept(body, _headers(body, ts=TS), correlation_id="client-corr-0001")
    again = _accept(body, _headers(body, ts=TS + 30), correlation_id="client-corr-0001")
    assert first.dedupe_key == again.dedupe_key == "default:cid:client-corr-0001"
    assert first.signal.signal_id == again.signal.signal_id
    assert first.fingerprint == again.fingerprint
    other = _accept(_body(quantity="11"), _headers(_body(quantity="11")),
                    correlation_id="client-corr-0001")  # fmt: skip
    assert other.dedupe_key == first.dedupe_key  # the webhook answers it 422
    assert other.fingerprint != first.fingerprint


def test_without_correlation_id_a_legacy_retry_signed_again_is_another_delivery() -> None:
    body = _body()
    first = _accept(body, _headers(body, ts=TS))
    again = _accept(body, _headers(body, ts=TS + 30))
    assert first.signal.signal_id != again.signal.signal_id


def test_idempotency_key_comes_before_the_correlation_id() -> None:
    body = _body()
    accepted = _accept(body, _headers(body), idempotency_key="k1", correlation_id="corr-00001")
    assert accepted.dedupe_key == "default:idem:k1"


def test_correlation_id_is_no_identity_for_other_schemes() -> None:
    provider = _provider("standard-webhooks", secrets=[{"value": SW_SECRET}])
    body = _body()
    accepted = _accept(body, _standard(body, "msg_9"), provider=provider,
                       correlation_id="corr-00001")  # fmt: skip
    assert accepted.dedupe_key == "default:msg_9"

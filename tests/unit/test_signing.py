"""Unit tests of app.signing: the legacy timestamped HMAC-SHA256 scheme."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import time
from collections.abc import Callable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.signing import OK, PREFIX, Verdict, sign, signed_payload, verify

# Properties: enough examples to matter, few enough to keep the suite fast.
PROPERTY = settings(max_examples=200, deadline=None, database=None)

SECRET = "s3cret-shared-key-for-tests"
BODY = b'{"symbol":"AAPL","side":"buy","quantity":"1","price":"10","account":"a","strategy":"s"}'
TS = 1_700_000_000
TOLERANCE = 300


def _expected_mac(secret: str, body: bytes, ts: str) -> str:
    return hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()


# -- sign ---------------------------------------------------------------------------------


def test_signed_payload_is_timestamp_dot_body() -> None:
    assert signed_payload("123", b"abc") == b"123.abc"
    assert signed_payload("1", b"") == b"1."


def test_sign_returns_timestamp_and_prefixed_hex_mac() -> None:
    ts, signature = sign(SECRET, BODY, TS)
    assert ts == str(TS)
    assert signature.startswith(PREFIX)
    mac = signature.removeprefix(PREFIX)
    assert len(mac) == 64
    assert mac == _expected_mac(SECRET, BODY, ts)


def test_sign_without_timestamp_uses_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: 1_234_567_890.9)
    ts, signature = sign(SECRET, BODY)
    assert ts == "1234567890"
    assert signature == PREFIX + _expected_mac(SECRET, BODY, "1234567890")


def test_sign_is_deterministic() -> None:
    assert sign(SECRET, BODY, TS) == sign(SECRET, BODY, TS)
    assert sign(SECRET, BODY, TS) != sign(SECRET, BODY, TS + 1)
    assert sign(SECRET, BODY, TS) != sign(SECRET + "x", BODY, TS)


# -- verify: the happy path -----------------------------------------------------------------


def test_valid_signature_verifies() -> None:
    ts, signature = sign(SECRET, BODY, TS)
    verdict = verify(SECRET, BODY, ts, signature, tolerance=TOLERANCE, now=TS)
    assert verdict == OK
    assert verdict.ok is True
    assert verdict.reason == "ok"


def test_valid_signature_verifies_against_the_real_clock() -> None:
    ts, signature = sign(SECRET, BODY)
    assert verify(SECRET, BODY, ts, signature).ok


def test_empty_body_can_be_signed_and_verified() -> None:
    ts, signature = sign(SECRET, b"", TS)
    assert verify(SECRET, b"", ts, signature, now=TS).ok


def test_twelve_digit_timestamp_is_accepted() -> None:
    big = 999_999_999_999
    ts, signature = sign(SECRET, BODY, big)
    assert len(ts) == 12
    assert verify(SECRET, BODY, ts, signature, now=big).ok


def test_unicode_secret_and_binary_body() -> None:
    secret = "clé-secrète-ü"
    body = bytes(range(256))
    ts, signature = sign(secret, body, TS)
    assert verify(secret, body, ts, signature, now=TS).ok


def test_verdict_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        OK.ok = False  # type: ignore[misc]


# -- verify: rejections ---------------------------------------------------------------------


def test_tampered_body_is_a_mismatch() -> None:
    ts, signature = sign(SECRET, BODY, TS)
    tampered = BODY.replace(b'"1"', b'"9"')
    assert tampered != BODY
    assert verify(SECRET, tampered, ts, signature, now=TS) == Verdict(False, "mismatch")


def test_wrong_secret_is_a_mismatch() -> None:
    ts, signature = sign("another-secret-entirely", BODY, TS)
    assert verify(SECRET, BODY, ts, signature, now=TS) == Verdict(False, "mismatch")


def test_signature_of_another_timestamp_is_a_mismatch() -> None:
    _, signature = sign(SECRET, BODY, TS)
    assert verify(SECRET, BODY, str(TS + 1), signature, now=TS) == Verdict(False, "mismatch")


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        (None, PREFIX + "00" * 32),
        (str(TS), None),
        (None, None),
        ("", PREFIX + "00" * 32),
        (str(TS), ""),
    ],
)
def test_missing_header(timestamp: str | None, signature: str | None) -> None:
    verdict = verify(SECRET, BODY, timestamp, signature, now=TS)
    assert verdict == Verdict(False, "missing-header")


@pytest.mark.parametrize(
    "timestamp",
    [
        "abc",
        "-1700000000",
        "+1700000000",
        "1700000000.5",
        "1.7e9",
        " 1700000000",
        "1700000000 ",
        "1700000000\n",
        "0x6553f100",
        "1234567890123",  # 13 digits: too long
        "0" * 40,
    ],
)
def test_bad_timestamp(timestamp: str) -> None:
    _, signature = sign(SECRET, BODY, TS)
    assert verify(SECRET, BODY, timestamp, signature, now=TS) == Verdict(False, "bad-timestamp")


@pytest.mark.parametrize(
    "timestamp",
    [
        "\uff11\uff17\uff10\uff10\uff10\uff10\uff10\uff10\uff10\uff10",  # full-width digits
        "\u0661\u0667\u0660\u0660",  # Arabic-Indic digits
        "\u00b2",  # superscript two (latin-1 0xB2)
    ],
)
def test_non_ascii_digit_timestamp_is_a_bad_timestamp(timestamp: str) -> None:
    """Regression: isdigit() accepts these, and encode('ascii') used to raise."""
    _, signature = sign(SECRET, BODY, TS)
    assert verify(SECRET, BODY, timestamp, signature, now=TS) == Verdict(False, "bad-timestamp")


@pytest.mark.parametrize(
    "transform",
    [
        lambda mac: "sha1=" + mac,
        lambda mac: "SHA256=" + mac,
        lambda mac: mac,
        lambda mac: " sha256=" + mac,
        lambda mac: "sha256:" + mac,
        lambda mac: "v1=" + mac,
    ],
    ids=["sha1", "upper-prefix", "no-prefix", "leading-space", "colon", "v1"],
)
def test_bad_signature_format(transform: Callable[[str], str]) -> None:
    ts, signature = sign(SECRET, BODY, TS)
    bad = transform(signature.removeprefix(PREFIX))
    assert verify(SECRET, BODY, ts, bad, now=TS) == Verdict(False, "bad-signature-format")


@pytest.mark.parametrize("keep", [0, 1, 32, 63])
def test_truncated_signature_is_a_mismatch(keep: int) -> None:
    ts, signature = sign(SECRET, BODY, TS)
    truncated = signature[: len(PREFIX) + keep]
    assert verify(SECRET, BODY, ts, truncated, now=TS) == Verdict(False, "mismatch")


@pytest.mark.parametrize("suffix", ["0", " ", "\n", "00" * 32, "é"])
def test_extended_signature_is_a_mismatch(suffix: str) -> None:
    ts, signature = sign(SECRET, BODY, TS)
    assert verify(SECRET, BODY, ts, signature + suffix, now=TS) == Verdict(False, "mismatch")


def test_non_hex_signature_is_a_mismatch() -> None:
    ts, _ = sign(SECRET, BODY, TS)
    assert verify(SECRET, BODY, ts, PREFIX + "zz" * 32, now=TS) == Verdict(False, "mismatch")


# -- verify: the clock ---------------------------------------------------------------------


@pytest.mark.parametrize("offset", [-TOLERANCE - 1, TOLERANCE + 1, -86_400, 86_400, TS])
def test_timestamp_beyond_tolerance(offset: int) -> None:
    """Both expired (now after ts) and future (now before ts) timestamps are refused."""
    ts, signature = sign(SECRET, BODY, TS)
    verdict = verify(SECRET, BODY, ts, signature, tolerance=TOLERANCE, now=TS + offset)
    assert verdict == Verdict(False, "timestamp-out-of-tolerance")


@pytest.mark.parametrize("offset", [-TOLERANCE, TOLERANCE, -TOLERANCE + 0.5, 0, 1, -1])
def test_timestamp_within_tolerance_inclusive(offset: float) -> None:
    ts, signature = sign(SECRET, BODY, TS)
    assert verify(SECRET, BODY, ts, signature, tolerance=TOLERANCE, now=TS + offset).ok


@pytest.mark.parametrize("offset", [TOLERANCE + 0.001, -TOLERANCE - 0.001])
def test_just_past_the_boundary_is_refused(offset: float) -> None:
    ts, signature = sign(SECRET, BODY, TS)
    verdict = verify(SECRET, BODY, ts, signature, tolerance=TOLERANCE, now=TS + offset)
    assert verdict.reason == "timestamp-out-of-tolerance"


def test_custom_tolerance() -> None:
    ts, signature = sign(SECRET, BODY, TS)
    assert verify(SECRET, BODY, ts, signature, tolerance=5, now=TS + 5).ok
    assert not verify(SECRET, BODY, ts, signature, tolerance=5, now=TS + 6).ok
    assert verify(SECRET, BODY, ts, signature, tolerance=0, now=TS).ok
    assert not verify(SECRET, BODY, ts, signature, tolerance=0, now=TS + 1).ok


def test_default_tolerance_is_300_seconds() -> None:
    ts, signature = sign(SECRET, BODY, TS)
    assert verify(SECRET, BODY, ts, signature, now=TS + 300).ok
    assert not verify(SECRET, BODY, ts, signature, now=TS + 301).ok


def test_default_clock_is_time_time(monkeypatch: pytest.MonkeyPatch) -> None:
    ts, signature = sign(SECRET, BODY, TS)
    monkeypatch.setattr(time, "time", lambda: float(TS + 1_000))
    assert verify(SECRET, BODY, ts, signature).reason == "timestamp-out-of-tolerance"
    monkeypatch.setattr(time, "time", lambda: float(TS + 10))
    assert verify(SECRET, BODY, ts, signature).ok


def test_signature_is_checked_before_the_clock() -> None:
    """A forged, expired request reports the forgery, not the expiry."""
    ts, signature = sign(SECRET, BODY, TS)
    verdict = verify(SECRET, BODY + b" ", ts, signature, now=TS + 10 * TOLERANCE)
    assert verdict.reason == "mismatch"


def test_real_clock_sanity() -> None:
    now = int(time.time())
    ts, signature = sign(SECRET, BODY, now - 2 * TOLERANCE)
    assert verify(SECRET, BODY, ts, signature).reason == "timestamp-out-of-tolerance"


# -- properties ----------------------------------------------------------------------------


@st.composite
def _mutation(draw: st.DrawFn, original: bytes, byte_values: st.SearchStrategy[int]) -> bytes:
    """``original`` with exactly one byte flipped, inserted or deleted."""
    kinds = ["flip", "insert", "delete"] if original else ["insert"]
    kind = draw(st.sampled_from(kinds))
    if kind == "insert":
        pos = draw(st.integers(0, len(original)))
        return original[:pos] + bytes([draw(byte_values)]) + original[pos:]
    pos = draw(st.integers(0, len(original) - 1))
    if kind == "delete":
        return original[:pos] + original[pos + 1 :]
    new = draw(byte_values.filter(lambda b: b != original[pos]))
    return original[:pos] + bytes([new]) + original[pos + 1 :]


@st.composite
def _signed_body_and_mutation(draw: st.DrawFn) -> tuple[bytes, bytes]:
    body = draw(st.binary(max_size=200))
    return body, draw(_mutation(body, st.integers(0, 255)))


@st.composite
def _timestamp_and_mutation(draw: st.DrawFn) -> tuple[str, str]:
    ts = str(draw(st.integers(0, 10**12 - 1)))
    mutated = draw(_mutation(ts.encode("ascii"), st.integers(0, 255)))
    return ts, mutated.decode("latin-1")  # header bytes as an HTTP server decodes them


@PROPERTY
@given(
    secret=st.text(min_size=8, max_size=40),
    body=st.binary(max_size=300),
    ts=st.integers(0, 10**12 - 1),
)
def test_property_sign_then_verify_is_ok(secret: str, body: bytes, ts: int) -> None:
    timestamp, signature = sign(secret, body, ts)
    assert verify(secret, body, timestamp, signature, now=ts) == OK


@PROPERTY
@given(case=_signed_body_and_mutation())
@example(case=(b"{}", b"{} "))
@example(case=(b"", b"\x00"))
@example(case=(b"ab", b"a"))
def test_property_body_mutation_never_verifies(case: tuple[bytes, bytes]) -> None:
    body, mutated = case
    assert mutated != body
    ts, signature = sign(SECRET, body, TS)
    verdict = verify(SECRET, mutated, ts, signature, now=TS)
    assert not verdict.ok
    assert verdict.reason == "mismatch"


@PROPERTY
@given(case=_timestamp_and_mutation())
@example(case=(str(TS), "0" + str(TS)))  # a leading zero names the same second
@example(case=("7", ""))
@example(case=(str(TS), str(TS) + "."))
@example(case=("1700000002", "170000000\u00b2"))  # superscript two: isdigit() is True
def test_property_timestamp_mutation_never_verifies(case: tuple[str, str]) -> None:
    ts, mutated = case
    assert mutated != ts
    timestamp, signature = sign(SECRET, BODY, int(ts))
    assert timestamp == ts
    verdict = verify(SECRET, BODY, mutated, signature, now=int(ts))
    assert not verdict.ok
    assert verdict.reason in {"missing-header", "bad-timestamp", "mismatch"}


@PROPERTY
@given(data=st.data())
def test_property_signature_mutation_never_verifies(data: st.DataObject) -> None:
    ts, signature = sign(SECRET, BODY, TS)
    raw = signature.encode("ascii")
    mutated = data.draw(_mutation(raw, st.integers(0, 127))).decode("ascii")
    assert not verify(SECRET, BODY, ts, mutated, now=TS).ok

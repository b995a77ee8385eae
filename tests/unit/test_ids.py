"""Unit tests of app.ids: deterministic event ids, UUIDv7 and correlation ids."""

from __future__ import annotations

import itertools
import time
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.ids import derive, fill_id_for, order_id_for, signal_id_for, uuid7, valid_correlation_id

# Properties: enough examples to matter, few enough to keep the suite fast.
PROPERTY = settings(max_examples=200, deadline=None, database=None)

# -- derive and the event ids ---------------------------------------------------------------


def test_derive_is_a_uuid5_string() -> None:
    value = derive("signal", "abc")
    parsed = uuid.UUID(value)
    assert str(parsed) == value
    assert parsed.version == 5
    assert parsed.variant == uuid.RFC_4122
    assert len(value) == 36


def test_derive_is_deterministic() -> None:
    assert derive("order", "x", "y") == derive("order", "x", "y")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("order", "x"), ("fill", "x")),
        (("order", "x"), ("order", "y")),
        (("fill", "x", "1"), ("fill", "x", "2")),
        (("fill", "x"), ("fill", "x", "1")),
        (("ab", "c"), ("a", "bc")),
        (("order",), ("order", "")),
    ],
)
def test_derive_differs_for_different_causes(a: tuple[str, ...], b: tuple[str, ...]) -> None:
    assert derive(*a) != derive(*b)


def test_signal_id_is_deterministic() -> None:
    signed = b"1700000000.{}"
    assert signal_id_for(signed) == signal_id_for(bytes(signed))
    assert uuid.UUID(signal_id_for(signed)).version == 5


def test_signal_id_differs_for_different_bytes() -> None:
    assert signal_id_for(b"1700000000.{}") != signal_id_for(b"1700000001.{}")
    assert signal_id_for(b"") != signal_id_for(b"\x00")


def test_order_id_is_deterministic_and_differs_from_its_signal() -> None:
    sid = signal_id_for(b"1700000000.{}")
    assert order_id_for(sid) == order_id_for(sid)
    assert order_id_for(sid) != sid
    assert order_id_for(sid) != order_id_for(signal_id_for(b"other"))


def test_fill_id_is_deterministic_and_depends_on_seq() -> None:
    oid = order_id_for(signal_id_for(b"x"))
    assert fill_id_for(oid) == fill_id_for(oid, 1)
    assert fill_id_for(oid, 1) == fill_id_for(oid, 1)
    assert fill_id_for(oid, 1) != fill_id_for(oid, 2)
    assert fill_id_for(oid) != oid
    assert fill_id_for(oid) != order_id_for(oid)


def test_kinds_are_separated() -> None:
    """The same cause yields different ids for different kinds of event."""
    cause = "6f3c1e52-3b8e-4f0c-9a57-9d9d3c1c2a10"
    ids = {order_id_for(cause), fill_id_for(cause), derive("signal", cause)}
    assert len(ids) == 3


def test_event_ids_have_the_event_id_length() -> None:
    sid = signal_id_for(b"payload")
    oid = order_id_for(sid)
    fid = fill_id_for(oid)
    assert {len(sid), len(oid), len(fid)} == {36}


@PROPERTY
@given(a=st.binary(max_size=64), b=st.binary(max_size=64))
def test_property_signal_id_injective(a: bytes, b: bytes) -> None:
    assert (signal_id_for(a) == signal_id_for(b)) == (a == b)


@PROPERTY
@given(a=st.text(max_size=40), b=st.text(max_size=40), seq=st.integers(1, 1000))
def test_property_order_and_fill_ids(a: str, b: str, seq: int) -> None:
    assert order_id_for(a) == order_id_for(a)
    assert (order_id_for(a) == order_id_for(b)) == (a == b)
    assert (fill_id_for(a, seq) == fill_id_for(b, seq)) == (a == b)
    assert fill_id_for(a, seq) != fill_id_for(a, seq + 1)


# -- uuid7 --------------------------------------------------------------------------------


def _ms_of(value: str) -> int:
    return uuid.UUID(value).int >> 80


def test_uuid7_version_and_variant() -> None:
    for _ in range(200):
        value = uuid7()
        parsed = uuid.UUID(value)
        assert str(parsed) == value
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert value[14] == "7"
        assert value[19] in "89ab"


def test_uuid7_carries_the_unix_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid7()
    after = time.time_ns() // 1_000_000
    assert before <= _ms_of(value) <= after


def test_uuid7_is_time_ordered() -> None:
    values = []
    for _ in range(5):
        values.append(uuid7())
        time.sleep(0.003)
    assert values == sorted(values)
    assert len(set(values)) == len(values)
    ints = [uuid.UUID(v).int for v in values]
    assert ints == sorted(ints)
    stamps = [_ms_of(v) for v in values]
    assert all(b > a for a, b in itertools.pairwise(stamps))


def test_uuid7_is_unique() -> None:
    values = {uuid7() for _ in range(2000)}
    assert len(values) == 2000


def test_uuid7_is_a_valid_correlation_id() -> None:
    assert valid_correlation_id(uuid7())


# -- correlation ids ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "abcdefgh",
        "ABCDEFGH",
        "12345678",
        "a.b_c:d-e",
        "req-2024-01-01T00:00:00.000",
        "x" * 128,
        "6f3c1e52-3b8e-4f0c-9a57-9d9d3c1c2a10",
    ],
)
def test_valid_correlation_ids(value: str) -> None:
    assert valid_correlation_id(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "abcdefg",  # 7 characters
        "x" * 129,
        "abcd efgh",
        "abcd/efgh",
        "abcd+efgh",
        "abcdefgh!",
        "abcdéfgh",
        "abcd\tefgh",
        "abcd\nefgh",
        "\nabcdefgh",
        "abcdefgh\r\nX-Injected: 1",
        "\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18",  # full-width digits
    ],
)
def test_invalid_correlation_ids(value: str) -> None:
    assert not valid_correlation_id(value)


@pytest.mark.parametrize("value", ["abcdefgh\n", "x" * 128 + "\n"])
def test_correlation_id_with_trailing_newline_is_invalid(value: str) -> None:
    """Regression: a '$'-anchored re.match used to accept a trailing newline."""
    assert not valid_correlation_id(value)


@PROPERTY
@given(
    value=st.text(
        alphabet=st.sampled_from("abcXYZ0189._:-"),
        min_size=8,
        max_size=128,
    )
)
def test_property_allowed_alphabet_is_valid(value: str) -> None:
    assert valid_correlation_id(value)


@PROPERTY
@given(
    prefix=st.text(alphabet="abc123", min_size=4, max_size=60),
    bad=st.characters(
        blacklist_categories=["Cs"],
        blacklist_characters="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-\n",
    ),
    suffix=st.text(alphabet="abc123", min_size=4, max_size=60),
)
def test_property_any_other_character_is_invalid(prefix: str, bad: str, suffix: str) -> None:
    assert not valid_correlation_id(prefix + bad + suffix)


@settings(max_examples=300)
@given(st.text(max_size=20), st.lists(st.text(max_size=60), max_size=4))
def test_property_derive_is_exactly_uuid5_of_the_joined_parts(kind: str, parts: list[str]) -> None:
    """``derive`` writes uuid5 out by hand for speed: every id it gave before, it gives."""
    from app.ids import _NAMESPACE

    assert derive(kind, *parts) == str(uuid.uuid5(_NAMESPACE, "\x1f".join((kind, *parts))))

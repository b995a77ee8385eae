"""Decimals on the wire: plain notation out, exactly the published pattern in."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from app.decimals import (
    NON_NEGATIVE_DECIMAL,
    POSITIVE_DECIMAL,
    SIGNED_DECIMAL,
    NonNegative,
    Positive,
    Signed,
    plain,
)
from app.gateway import parse_json


class Holder(BaseModel):
    positive: Positive = Decimal(1)
    non_negative: NonNegative = Decimal(0)


class SignedHolder(BaseModel):
    signed: Signed


def _error(**values: Any) -> dict[str, Any]:
    with pytest.raises(ValidationError) as info:
        Holder.model_validate(values)
    errors = info.value.errors()
    assert len(errors) == 1
    return dict(errors[0])


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1E-7"), "0.0000001"),
        (Decimal("1E+2"), "100"),
        (Decimal("0.10"), "0.10"),
        (Decimal("-0"), "0"),
        (Decimal("0E-12"), "0.000000000000"),
        (Decimal("-12.5"), "-12.5"),
    ],
)
def test_plain_never_writes_an_exponent(value: Decimal, text: str) -> None:
    assert plain(value) == text


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_property_plain_is_fixed_point_notation(value: Decimal) -> None:
    """The fast path (``str``) and fixed-point formatting agree on every finite decimal."""
    assert plain(value) == format(value.copy_abs() if value.is_zero() else value, "f")


@pytest.mark.parametrize("value", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_plain_refuses_what_is_not_finite(value: str) -> None:
    with pytest.raises(ValueError, match="finite"):
        plain(Decimal(value))


@pytest.mark.parametrize(
    "text", ["10", "0.5", "0.50", "0.000000000001", "9999999999999999.999999999999", "1.0"]
)
def test_positive_strings_in_the_pattern_are_accepted_as_given(text: str) -> None:
    holder = Holder(positive=text)
    assert holder.positive == Decimal(text)
    assert f'"positive":"{text}"' in holder.model_dump_json()


@pytest.mark.parametrize(
    "text",
    [" 10 ", "+10", "1e3", "1E-7", "00.5", "010", "10.", ".5", "1_000", "10000000000000000",
     "0.0000000000001", "NaN", "Infinity", "", "0x10", "\u0661\u0660", "10\n"],
)  # fmt: skip
def test_strings_outside_the_pattern_are_refused(text: str) -> None:
    error = _error(positive=text)
    assert error["type"] == "decimal_format"
    assert "plain notation" in error["msg"]


@pytest.mark.parametrize("text", ["0", "-1", "0.000"])
def test_not_positive_is_greater_than(text: str) -> None:
    assert _error(positive=text)["type"] == "greater_than"


def test_non_negative_accepts_zero_and_refuses_negative() -> None:
    assert Holder(non_negative="0").non_negative == 0
    assert _error(non_negative="-0.1")["type"] == "greater_than_equal"


@pytest.mark.parametrize("text", ["10", "-5", "0", "-0.25", "12.000"])
def test_signed_accepts_plain_decimals_with_a_minus(text: str) -> None:
    assert SignedHolder(signed=text).signed == Decimal(text)
    assert re.fullmatch(SIGNED_DECIMAL, text)


@pytest.mark.parametrize("text", ["+10", "1e3", "-", "--1", " 1", "01", "1.", "NaN"])
def test_signed_refuses_what_is_not_plain(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        SignedHolder.model_validate({"signed": text})
    (error,) = info.value.errors()
    assert error["type"] == "decimal_format"
    assert "a leading - only" in error["msg"]


@pytest.mark.parametrize("value", [True, 1.5, None, [1], {"a": 1}])
def test_other_types_are_refused(value: Any) -> None:
    assert _error(positive=value)["type"] == "decimal_format"


def test_json_numbers_are_canonicalized() -> None:
    """The webhook parses JSON numbers exactly (``app.gateway.parse_json``), never as float."""
    holder = Holder.model_validate(parse_json(b'{"positive": 1e-7, "non_negative": 2E2}'))
    assert holder.model_dump_json() == '{"positive":"0.0000001","non_negative":"200"}'
    assert _error(positive=Decimal("1E+16"))["type"] == "decimal_format"  # 17 digits


@settings(max_examples=300, deadline=None)
@given(
    st.decimals(
        min_value=Decimal("0.000000000001"),
        max_value=Decimal("9999999999999999.999999999999"),
        places=12,
        allow_nan=False,
        allow_infinity=False,
    )
)
def test_property_every_accepted_value_is_written_in_the_pattern(value: Decimal) -> None:
    written = Holder(positive=value, non_negative=value).model_dump(mode="json")
    assert re.match(POSITIVE_DECIMAL, written["positive"])
    assert re.match(NON_NEGATIVE_DECIMAL, written["non_negative"])
    assert Decimal(written["positive"]) == value
    again = Holder.model_validate(written)  # what is written is accepted back
    assert again.positive == value


_ANY_DECIMAL = st.decimals(allow_nan=False, allow_infinity=False) | st.builds(
    lambda digits, exponent, negative: Decimal((int(negative), digits, exponent)),
    st.lists(st.integers(0, 9), min_size=1, max_size=20).map(tuple),
    st.integers(-16, 20),
    st.booleans(),
)


@settings(max_examples=500)
@given(_ANY_DECIMAL)
def test_property_a_decimal_is_accepted_exactly_when_its_plain_form_matches(
    value: Decimal,
) -> None:
    """A Decimal computed in-process takes a shortcut past the pattern: it must agree
    with the pattern on every value."""
    for model, field, pattern in (
        (Holder, "positive", POSITIVE_DECIMAL),
        (Holder, "non_negative", NON_NEGATIVE_DECIMAL),
        (SignedHolder, "signed", SIGNED_DECIMAL),
    ):
        expected = re.fullmatch(pattern, plain(value)) is not None
        try:
            got = getattr(model.model_validate({field: value}), field)
        except ValidationError:
            assert not expected, (field, value)
        else:
            assert expected, (field, value)
            assert got == value

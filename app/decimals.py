"""Decimals on the wire: one notation, one serializer, one validator for every topic and API.

A decimal travels as a JSON string in plain notation: no exponent, no sign for a
positive number, its places as given (``"0.0000001"``, ``"0.10"``, ``"100"``; never
``"1E-7"`` or ``"1E+2"``, Python's ``str(Decimal)``). :func:`plain` writes that form, and
every model field of money or quantity serializes through it.

What is accepted is exactly what the published pattern says: a string must match it
(``" 10 "``, ``"+10"``, ``"1e3"`` are refused); a JSON number (parsed exactly, never
through float) or a ``Decimal`` is accepted when its plain form matches it. Zeros after
the point are accepted and kept (``"0.50"`` stays ``"0.50"``).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

MAX_INTEGER_DIGITS = 16
MAX_PLACES = 12
_FRACTION = rf"(\.[0-9]{{1,{MAX_PLACES}}})?"
# 0.x with at least one non-zero digit among at most 12 places, written without lookahead
# so that every JSON Schema validator (RE2-based ones too) reads it the same.
_SMALL = "|".join(
    rf"0\.0{{{zeros}}}[1-9][0-9]{{0,{MAX_PLACES - 1 - zeros}}}" for zeros in range(MAX_PLACES)
)
POSITIVE_DECIMAL = rf"^([1-9][0-9]{{0,{MAX_INTEGER_DIGITS - 1}}}{_FRACTION}|{_SMALL})$"
NON_NEGATIVE_DECIMAL = rf"^(0|[1-9][0-9]{{0,{MAX_INTEGER_DIGITS - 1}}}){_FRACTION}$"
SIGNED_DECIMAL = rf"^-?(0|[1-9][0-9]{{0,{MAX_INTEGER_DIGITS - 1}}}){_FRACTION}$"
# ASCII digits only (``\d`` is any Unicode digit otherwise), and fullmatch: "10\n" is refused.
_POSITIVE = re.compile(POSITIVE_DECIMAL, re.ASCII)
_NON_NEGATIVE = re.compile(NON_NEGATIVE_DECIMAL, re.ASCII)
_SIGNED = re.compile(SIGNED_DECIMAL, re.ASCII)


def plain(value: Decimal) -> str:
    """``value`` in plain notation (never an exponent), its places kept; ``-0`` is ``0``."""
    text = str(value)  # plain already unless it has an exponent (or is not finite, or -0)
    if "E" not in text and "N" not in text and "I" not in text and not text.startswith("-0"):
        return text
    return _plain(value)


def _plain(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError("a decimal must be finite")
    if value.is_zero():
        value = value.copy_abs()
    return format(value, "f")


def _parser(pattern: re.Pattern[str], *, positive: bool, signed: bool = False) -> Any:
    """A before-validator: the value as a Decimal if its plain form matches ``pattern``."""
    what = "" if signed else " greater than 0" if positive else " of 0 or more"
    sign = "a leading - only" if signed else "no sign"

    def refuse(number: Decimal | None) -> PydanticCustomError:
        if (
            not signed
            and number is not None
            and number.is_finite()
            and (number <= 0 if positive else number < 0)
        ):
            if positive:
                return PydanticCustomError("greater_than", "Input should be greater than 0")
            return PydanticCustomError("greater_than_equal", "Input should be 0 or more")
        return PydanticCustomError(
            "decimal_format",
            f"Input should be a decimal string{what}, with at most {MAX_INTEGER_DIGITS} digits "
            f"before the point and {MAX_PLACES} after it, in plain notation ({sign}, no exponent, "
            'spaces or leading zeros), e.g. "10.5"',
        )

    def parse(value: Any) -> Decimal:
        if type(value) is Decimal and value.is_finite():  # computed in-process: the hot path
            # what the pattern says, read off the number: at most MAX_PLACES places, at
            # most MAX_INTEGER_DIGITS before the point, and the sign; else the slow path
            exponent = value.as_tuple().exponent
            if (
                isinstance(exponent, int)
                and exponent >= -MAX_PLACES
                and value.adjusted() < MAX_INTEGER_DIGITS
                and (value > 0 if positive else signed or not value.is_signed())
            ):
                return value
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise refuse(None)
        if isinstance(value, str):
            if pattern.fullmatch(value):
                return Decimal(value)
            try:
                raise refuse(Decimal(value.strip()))
            except InvalidOperation:
                raise refuse(None) from None
        number = Decimal(value)
        if number.is_finite() and pattern.fullmatch(plain(number)):
            return number
        raise refuse(number)

    return parse


_serialize = PlainSerializer(plain, return_type=str, when_used="json")

PlainDecimal = Annotated[Decimal, _serialize, WithJsonSchema({"type": "string"})]
"""Any decimal (signed; computed state such as positions), serialized in plain notation."""

Positive = Annotated[
    Decimal,
    BeforeValidator(_parser(_POSITIVE, positive=True)),
    _serialize,
    WithJsonSchema({"type": "string", "pattern": POSITIVE_DECIMAL, "examples": ["10.5"]}),
]
NonNegative = Annotated[
    Decimal,
    BeforeValidator(_parser(_NON_NEGATIVE, positive=False)),
    _serialize,
    WithJsonSchema({"type": "string", "pattern": NON_NEGATIVE_DECIMAL, "examples": ["0"]}),
]
Signed = Annotated[
    Decimal,
    BeforeValidator(_parser(_SIGNED, positive=False, signed=True)),
    _serialize,
    WithJsonSchema({"type": "string", "pattern": SIGNED_DECIMAL, "examples": ["-5"]}),
]
"""A signed decimal given by a client (a target position), in plain notation."""

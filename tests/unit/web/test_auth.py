"""The API token check: bearer scheme, constant-time comparison."""

from __future__ import annotations

import inspect

import pytest

from app.web import auth


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        ("Bearer tok-123", True),
        ("bearer tok-123", True),
        ("Bearer  tok-123 ", True),
        ("Bearer tok-12", False),
        ("Bearer tok-1234", False),
        ("Basic tok-123", False),
        ("tok-123", False),
        ("", False),
        (None, False),
    ],
)
def test_authorized(header: str | None, ok: bool) -> None:
    assert auth.authorized(header, "tok-123") is ok


def test_the_token_is_compared_in_constant_time() -> None:
    source = inspect.getsource(auth.authorized)
    assert "hmac.compare_digest" in source and "==" not in source.replace('== "bearer"', "")

"""Fuzzing of signature verification and JSON parsing (hypothesis).

Whatever bytes and headers arrive, the gateway either accepts a correctly signed valid
signal or raises one of its documented problems (a ``ProblemError``: 4xx with a reason);
nothing else escapes (no ``KeyError``, ``UnicodeError``, ``RecursionError``...), and no
unsigned input is ever accepted. A few hundred cases run in make test; the long run
(``pytest -m long tests/unit/test_fuzz.py``) runs 20,000 per target.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.errors import InvalidJSON, ProblemError
from app.gateway import accept, parse_json
from app.providers import Provider
from app.schemes import SW_ID, SW_SIGNATURE, SW_TIMESTAMP, sw_sign
from app.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

SECRET = "fuzz-test-secret-0123456789"
SW_SECRET = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
TS = 1_700_000_000
NOW = datetime.fromtimestamp(TS, UTC)
PROVIDERS = {
    scheme: Provider.model_validate(
        {
            "id": "default",
            "scheme": scheme,
            "secrets": [{"value": SW_SECRET if scheme == "standard-webhooks" else SECRET}],
        }
    )
    for scheme in ("legacy", "standard-webhooks", "tradingview")
}
RUNS = [pytest.param(300, id="fast"), pytest.param(20_000, id="long", marks=pytest.mark.long)]


def _settings(n: int) -> settings:
    return settings(
        max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
signal_like = st.fixed_dictionaries(
    {},
    optional={
        "symbol": st.one_of(st.text(max_size=20), st.integers(), st.none()),
        "side": st.sampled_from(["buy", "sell", "BUY", "hold", ""]) | st.integers(),
        "quantity": st.one_of(st.text(max_size=30), st.integers(), st.floats(), st.none()),
        "order_type": st.sampled_from(["market", "limit", "stop", ""]),
        "price": st.one_of(st.text(max_size=30), st.integers(), st.floats(allow_nan=False)),
        "account": st.text(max_size=70),
        "strategy": st.text(max_size=70),
        "secret": st.text(max_size=40) | st.just(SECRET),
    },
).map(lambda d: {**d, **({"extra": 1} if len(d) % 3 == 0 else {})})
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    signal_like.map(lambda v: json.dumps(v).encode()),
)
header_values = st.one_of(
    st.text(max_size=80),
    st.just(str(TS)),
    st.builds(lambda ts: str(ts), st.integers(-(10**20), 10**20)),
    st.text(alphabet="0123456789abcdefv1=,. ", max_size=90),
)
HEADER_NAMES = [TIMESTAMP_HEADER, SIGNATURE_HEADER, SW_ID, SW_TIMESTAMP, SW_SIGNATURE,
                "Content-Type", "X-Other"]  # fmt: skip
headers = st.dictionaries(
    st.sampled_from(HEADER_NAMES),
    header_values,
    max_size=6,
)


def _accept(scheme: str, body: bytes, head: dict[str, str]) -> Any:
    return accept(PROVIDERS[scheme], body, head, tolerance=300, now=NOW)


@pytest.mark.parametrize("n", RUNS)
def test_unsigned_or_forged_input_only_ever_gets_a_documented_4xx(n: int) -> None:
    @_settings(n)
    @given(scheme=st.sampled_from(sorted(PROVIDERS)), body=bodies, head=headers)
    def check(scheme: str, body: bytes, head: dict[str, str]) -> None:
        try:
            accepted = _accept(scheme, body, head)
        except ProblemError as exc:
            assert 400 <= exc.status < 500, exc
            return
        # only TradingView carries its secret in the body: it is the one way in unsigned
        assert scheme == "tradingview" and SECRET.encode() in body, accepted

    check()


@pytest.mark.parametrize("n", RUNS)
def test_correctly_signed_arbitrary_bodies_are_accepted_or_get_a_4xx(n: int) -> None:
    @_settings(n)
    @given(scheme=st.sampled_from(["legacy", "standard-webhooks"]), body=bodies)
    def check(scheme: str, body: bytes) -> None:
        if scheme == "legacy":
            ts, sig = sign(SECRET, body, timestamp=TS)
            head = {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sig}
        else:
            try:
                text_ok = body.decode("utf-8") is not None
            except UnicodeDecodeError:
                text_ok = False
            if not text_ok:
                return
            sig = sw_sign(SW_SECRET, "msg_fuzz", str(TS), body)
            head = {SW_ID: "msg_fuzz", SW_TIMESTAMP: str(TS), SW_SIGNATURE: sig}
        head["Content-Type"] = "application/json"
        try:
            accepted = _accept(scheme, body, head)
        except ProblemError as exc:
            assert 400 <= exc.status < 500, exc
            return
        assert accepted.signal.quantity > 0

    check()


@pytest.mark.parametrize("n", RUNS)
def test_json_parsing_returns_a_value_or_invalid_json(n: int) -> None:
    @_settings(n)
    @given(
        body=st.one_of(
            st.binary(max_size=200),
            st.text(alphabet='{}[]":,0123456789.eE-+ntrufalsNI\\ \x00\ud7ff', max_size=200).map(
                lambda t: t.encode("utf-8", "surrogatepass")
            ),
            st.integers(1, 5000).map(lambda d: b"[" * d + b"]" * d),
            st.integers(1, 6000).map(lambda d: b"1" * d),
        )
    )
    def check(body: bytes) -> None:
        with contextlib.suppress(InvalidJSON):
            parse_json(body)

    check()

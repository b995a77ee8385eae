"""Signature schemes: each verifies what it should and nothing else."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from app import schemes, signing

SW_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
OTHER_SW_SECRET = "whsec_" + base64.b64encode(b"fedcba9876543210fedcba9876543210").decode()
BODY = b'{"symbol":"AAPL","side":"buy","quantity":"1","price":"1","account":"a","strategy":"s"}'
NOW = time.time()


def sw_headers(secret: str = SW_SECRET, body: bytes = BODY, ts: float = NOW) -> dict[str, str]:
    moment = datetime.fromtimestamp(ts, UTC)
    sig = Webhook(secret).sign("msg_1", moment, body.decode())
    return {"webhook-id": "msg_1", "webhook-timestamp": str(int(ts)), "webhook-signature": sig}


def verify_sw(
    headers: dict[str, str], body: bytes = BODY, secrets: tuple[str, ...] = (SW_SECRET,)
) -> schemes.Verified:
    return schemes.verify_standard(secrets, body, headers, 300, NOW)


def test_standard_webhooks_reference_library_signature_verifies() -> None:
    assert verify_sw(sw_headers()).delivery_id == "msg_1"
    # and the reference library accepts what we sign (it checks against its own clock, so
    # the timestamp is taken now: the module's NOW may be minutes old when this runs)
    stamp = str(int(time.time()))
    sig = schemes.sw_sign(SW_SECRET, "msg_1", stamp, BODY)
    headers = {"webhook-id": "msg_1", "webhook-timestamp": stamp, "webhook-signature": sig}
    Webhook(SW_SECRET).verify(BODY, headers)


def test_standard_webhooks_any_of_several_signatures_may_match() -> None:
    good = sw_headers()
    other = sw_headers(OTHER_SW_SECRET)["webhook-signature"]
    headers = {**good, "webhook-signature": f"{other} v2,abc {good['webhook-signature']}"}
    assert verify_sw(headers).delivery_id == "msg_1"


def test_standard_webhooks_rotated_secrets() -> None:
    headers = sw_headers(OTHER_SW_SECRET)
    assert verify_sw(headers, secrets=(SW_SECRET, OTHER_SW_SECRET)).delivery_id == "msg_1"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (
            lambda h: {**h, "webhook-signature": sw_headers(OTHER_SW_SECRET)["webhook-signature"]},
            "mismatch",
        ),
        (lambda h: {k: v for k, v in h.items() if k != "webhook-id"}, "missing-header"),
        (lambda h: {k: v for k, v in h.items() if k != "webhook-timestamp"}, "missing-header"),
        (lambda h: {k: v for k, v in h.items() if k != "webhook-signature"}, "missing-header"),
        (lambda h: {**h, "webhook-signature": h["webhook-signature"][:-6]}, "mismatch"),
        (
            lambda h: {**h, "webhook-signature": "v0," + h["webhook-signature"][3:]},
            "bad-signature-format",
        ),
        (lambda h: {**h, "webhook-timestamp": "12x"}, "bad-timestamp"),
        (lambda h: {**h, "webhook-id": "msg_2"}, "mismatch"),
    ],
)
def test_standard_webhooks_rejections(mutate: object, reason: str) -> None:
    with pytest.raises(schemes.Rejected) as err:
        verify_sw(mutate(sw_headers()))  # type: ignore[operator]
    assert err.value.reason == reason


def test_standard_webhooks_tampered_body() -> None:
    with pytest.raises(schemes.Rejected, match="mismatch"):
        verify_sw(sw_headers(), body=BODY.replace(b'"1"', b'"2"', 1))


@pytest.mark.parametrize(
    ("offset", "reason"), [(-301, "timestamp-too-old"), (301, "timestamp-in-future")]
)
def test_standard_webhooks_timestamp_window(offset: int, reason: str) -> None:
    with pytest.raises(schemes.Rejected) as err:
        verify_sw(sw_headers(ts=NOW + offset))
    assert err.value.reason == reason
    assert verify_sw(sw_headers(ts=NOW + 299)).delivery_id == "msg_1"


def test_legacy_rotation_and_delivery_id() -> None:
    ts, sig = signing.sign("second-secret", BODY, int(NOW))
    headers = {signing.TIMESTAMP_HEADER: ts, signing.SIGNATURE_HEADER: sig}
    verified = schemes.verify_legacy(("first-secret", "second-secret"), BODY, headers, 300, NOW)
    again = schemes.verify_legacy(("second-secret",), BODY, headers, 300, NOW)
    assert verified.delivery_id == again.delivery_id
    with pytest.raises(schemes.Rejected, match="mismatch"):
        schemes.verify_legacy(("first-secret",), BODY, headers, 300, NOW)
    with pytest.raises(schemes.Rejected, match="no-active-secret"):
        schemes.verify_legacy((), BODY, headers, 300, NOW)


def test_tradingview_secret_field_is_checked_and_stripped() -> None:
    payload = {"symbol": "AAPL", "secret": "tv-shared-secret"}
    assert schemes.verify_tradingview(("tv-shared-secret",), payload)
    assert "secret" not in payload
    for bad, reason in [({"symbol": "AAPL"}, "missing-secret-field"),
                        ({"secret": "nope-nope-nope"}, "mismatch"),
                        ({"secret": 5}, "missing-secret-field")]:  # fmt: skip
        with pytest.raises(schemes.Rejected) as err:
            schemes.verify_tradingview(("tv-shared-secret",), bad)
        assert err.value.reason == reason
    with pytest.raises(schemes.Rejected, match="not-an-object"):
        schemes.verify_tradingview(("tv-shared-secret",), [1])


@settings(max_examples=200, deadline=None)
@given(
    where=st.sampled_from(["body", "id", "timestamp", "signature"]),
    pos=st.integers(min_value=0, max_value=10_000),
    byte=st.integers(min_value=0, max_value=255),
    op=st.sampled_from(["flip", "insert", "delete"]),
)
def test_no_mutation_of_a_signed_standard_webhook_verifies(
    where: str, pos: int, byte: int, op: str
) -> None:
    headers = sw_headers()
    field = {"id": "webhook-id", "timestamp": "webhook-timestamp", "signature": "webhook-signature"}
    original = BODY if where == "body" else headers[field[where]].encode()
    i = pos % len(original)
    if op == "flip":
        changed = original[:i] + bytes([original[i] ^ (byte or 1)]) + original[i + 1 :]
    elif op == "insert":
        changed = original[:i] + bytes([byte]) + original[i:]
    else:
        changed = original[:i] + original[i + 1 :]
    if changed == original:
        return
    body = changed if where == "body" else BODY
    if where != "body":
        text = changed.decode("latin-1")
        if where == "signature" and " " in text:  # a space makes it two candidates; keep one
            text = text.replace(" ", "")
            if text == original.decode("latin-1"):
                return  # the inserted space was all the mutation: nothing changed
        headers = {**headers, field[where]: text}
    with pytest.raises(schemes.Rejected):
        verify_sw(headers, body=body)

"""at_stream.testing without a broker: signers verify, the providers file loads, records
match, and the broker and worker choices follow the environment."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from app.providers import Scheme, load_providers
from app.schemes import verify_legacy, verify_standard, verify_tradingview
from at_stream.testing import brokers, harness
from at_stream.testing.harness import Signer, default_signers, new_worker, providers_toml

BODY = json.dumps({"symbol": "AAPL", "side": "buy", "quantity": "1"}).encode()


def test_each_signer_passes_its_schemes_verifier() -> None:
    signers = default_signers()
    now = time.time()
    body, headers = signers["legacy"].sign(BODY)
    verify_legacy([signers["legacy"].secret], body, headers, 300, now)
    body, headers = signers["standard-webhooks"].sign(BODY)
    verify_standard([signers["standard-webhooks"].secret], body, headers, 300, now)
    body, headers = signers["tradingview"].sign(BODY)
    payload = json.loads(body)
    verify_tradingview([signers["tradingview"].secret], payload)
    assert payload == json.loads(BODY)  # the secret field stripped, nothing else changed


def test_paths_and_unknown_scheme() -> None:
    assert Signer("default", "legacy", "x" * 8).path == "/webhook/signals"
    assert Signer("sw", "standard-webhooks", "x" * 8).path == "/webhook/signals/sw"
    with pytest.raises(ValueError, match="unknown scheme"):
        Signer("p", "rot13", "x" * 8).sign(BODY)


def test_providers_file_loads_with_the_default_provider(tmp_path: Path) -> None:
    signers = default_signers()
    path = tmp_path / "providers.toml"
    path.write_text(providers_toml(signers))
    found = load_providers(path, signers["legacy"].secret)
    assert {p: found[p].scheme for p in found} == {
        "default": Scheme.LEGACY,
        "sw": Scheme.STANDARD_WEBHOOKS,
        "tv": Scheme.TRADINGVIEW,
    }
    assert found["tv"].ip_allowed("127.0.0.1") and not found["tv"].ip_allowed("192.0.2.1")


def test_new_worker_has_its_own_topics_and_env(tmp_path: Path) -> None:
    signers = default_signers()
    a = new_worker("127.0.0.1:1", tmp_path / "a", signers=signers, mode="process")
    b = new_worker("127.0.0.1:1", tmp_path / "b", signers=signers, mode="process")
    assert a.topics["fills"] == f"{a.prefix}-fills" and a.prefix != b.prefix
    assert a.env["AT_STREAM_APP_ID"] == a.prefix and a.port != b.port
    assert a.env["API_KEY_HMAC_SECRET"] == signers["legacy"].secret
    assert (tmp_path / "a" / "providers.toml").exists()


def test_matches() -> None:
    assert harness._matches({"a": 1, "b": "x"}, {"a": 1})
    assert not harness._matches({"a": 1}, {"a": 2})
    assert not harness._matches({"a": 1}, {"c": 1})
    assert not harness._matches([1], {"a": 1})


def test_choices_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AT_STREAM_TEST_WORKER", "process")
    assert harness.worker_mode() == "process"
    monkeypatch.setenv("AT_STREAM_TEST_WORKER", "container")
    assert harness.worker_mode() == "container"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9")
    monkeypatch.delenv("AT_STREAM_TEST_BROKER", raising=False)
    with brokers.any_broker(Path("/nonexistent")) as broker:
        assert (broker.kind, broker.bootstrap) == ("env", "127.0.0.1:9")

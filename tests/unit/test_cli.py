"""The CLI's own commands and its one-line errors (no broker needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app import cli

SECRET_VARS = ("API_KEY_HMAC_SECRET", "AT_STREAM_PROVIDERS_FILE", "KAFKA_BOOTSTRAP_SERVERS")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for name in (*SECRET_VARS, "NATS_URL"):
        monkeypatch.delenv(name, raising=False)


def test_worker_without_a_secret_fails_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["worker"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "API_KEY_HMAC_SECRET" in err


def test_malformed_nats_url_fails_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("API_KEY_HMAC_SECRET", "a-long-enough-secret")
    monkeypatch.setenv("NATS_URL", "http://nats:4222")
    assert cli.main(["worker"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "NATS_URL" in err


def test_sample_command_signs_at_send_time(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("API_KEY_HMAC_SECRET", "a-long-enough-secret")
    assert cli.main(["sample"]) == 0
    out = capsys.readouterr().out
    assert "TS=$(date +%s)" in out and "openssl dgst -sha256 -hmac" in out
    assert "/webhook/signals" in out and "X-Signature: sha256=$SIG" in out


def test_schema_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["schema", "--out", str(tmp_path / "s")]) == 0
    written = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert written == [
        "dead-letters.v1.schema.json",
        "fills.v1.schema.json",
        "orders.v1.schema.json",
        "signals.v1.schema.json",
    ]
    fills = json.loads((tmp_path / "s" / "fills.v1.schema.json").read_text())
    assert fills["properties"]["price"]["type"] == "string"  # decimals travel as strings


def test_dev_secret_is_written_once(monkeypatch: pytest.MonkeyPatch) -> None:
    cli.ensure_dev_secret()
    first = Path(".env").read_text()
    cli.ensure_dev_secret()
    assert Path(".env").read_text() == first and first.startswith("API_KEY_HMAC_SECRET=")

"""The CLI's own commands and its one-line errors (no broker needed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app import cli, signing
from app.settings import load_settings

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
    assert "a-long-enough-secret" not in out  # read when it runs, never printed


def test_sample_command_signs_with_the_secret_it_reads_at_send_time(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("API_KEY_HMAC_SECRET=secret-from-dot-env\n")
    monkeypatch.setenv("API_KEY_HMAC_SECRET", "a-long-enough-secret")
    assert cli.main(["sample"]) == 0
    command = capsys.readouterr().out.strip()
    for env_secret in ("", "a-long-enough-secret"):  # from .env, then from the environment
        shown = subprocess.run(
            ["bash", "-c", 'curl() { printf "%s\\n" "$@"; }; ' + command],
            env={"PATH": os.environ["PATH"], "API_KEY_HMAC_SECRET": env_secret},
            capture_output=True, text=True, check=True,
        ).stdout.splitlines()  # fmt: skip
        ts = next(a for a in shown if a.startswith("X-Signature-Timestamp: ")).split(": ")[1]
        sig = next(a for a in shown if a.startswith("X-Signature: ")).split(": ")[1]
        body = shown[shown.index("-d") + 1].encode()
        secret = env_secret or "secret-from-dot-env"
        assert sig == signing.sign(secret, body, int(ts))[1]


class _Readyz(BaseHTTPRequestHandler):
    """``/readyz``: 503 until the test sets ``ready``, then 200."""

    ready = threading.Event()

    def do_GET(self) -> None:
        self.send_response(200 if self.ready.is_set() else 503)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_make_run_announces_the_webhook_once_ready_and_prints_no_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Readyz)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Readyz.ready.clear()
    try:
        monkeypatch.setenv("API_KEY_HMAC_SECRET", "a-long-enough-secret")
        monkeypatch.setenv("AT_STREAM_API_TOKEN", "an-api-token-of-the-test")
        monkeypatch.setenv("AT_STREAM_WEB_PORT", str(server.server_address[1]))
        announcer = cli.announce_when_ready(load_settings(), timeout=20)
        time.sleep(1.2)  # a few polls of /readyz answered 503
        assert capsys.readouterr().out == ""  # nothing before the worker is ready
        _Readyz.ready.set()
        announcer.join(timeout=10)
        assert not announcer.is_alive()
    finally:
        server.shutdown()
        server.server_close()
    out = capsys.readouterr().out
    url = f"http://127.0.0.1:{server.server_address[1]}/webhook/signals"
    assert f"Webhook: POST {url}" in out and "openssl dgst -sha256 -hmac" in out
    assert "a-long-enough-secret" not in out and "an-api-token-of-the-test" not in out


def test_schema_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["schema", "--out", str(tmp_path / "s")]) == 0
    written = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert written == [
        "dead-letters.v1.schema.json",
        "fills.v1.schema.json",
        "order-events.v1.schema.json",
        "orders.cancel.v1.schema.json",
        "orders.clock.v1.schema.json",
        "orders.quote.v1.schema.json",
        "orders.target.v1.schema.json",
        "orders.trading_state.v1.schema.json",
        "orders.v1.schema.json",
        "orders.venue_event.v1.schema.json",
        "quotes.v1.schema.json",
        "signals.v1.schema.json",
    ]
    fills = json.loads((tmp_path / "s" / "fills.v1.schema.json").read_text())
    assert fills["properties"]["price"]["type"] == "string"  # decimals travel as strings


def test_dev_secret_is_written_once(monkeypatch: pytest.MonkeyPatch) -> None:
    cli.ensure_dev_secret()
    first = Path(".env").read_text()
    cli.ensure_dev_secret()
    assert Path(".env").read_text() == first and first.startswith("API_KEY_HMAC_SECRET=")


def test_dev_writes_an_api_token_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AT_STREAM_API_TOKEN", raising=False)
    cli.ensure_dev_secret()
    names = [line.split("=", 1)[0] for line in Path(".env").read_text().splitlines()]
    assert names.count("AT_STREAM_API_TOKEN") == 1


def test_worker_log_lines_survive_a_sigkill(tmp_path: Path) -> None:
    """Faust logs to stdout; to a file that is block-buffered, and a SIGKILL lost the tail."""
    code = (
        "import os, signal, sys\n"
        "from app.cli import line_buffered_output\n"
        "line_buffered_output()\n"
        "print('audit sink consuming')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    out = tmp_path / "worker.log"
    with out.open("wb") as f:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # as on CI
        env["PYTHONPATH"] = str(Path(__file__).parents[2])
        proc = subprocess.run([sys.executable, "-c", code], stdout=f, env=env, check=False)
    assert proc.returncode == -signal.SIGKILL
    assert out.read_text() == "audit sink consuming\n"

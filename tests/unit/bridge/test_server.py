"""The local nats-server of make run and the tests: which URL gets one, start/status/stop."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import cli
from app.bridge.server import LocalNats, local_nats_for
from app.broker.launcher import free_port


def test_only_a_local_url_gets_a_local_server(tmp_path: Path) -> None:
    local = local_nats_for("nats://127.0.0.1:4333", tmp_path)
    assert local is not None and local.port == 4333 and local.url == "nats://127.0.0.1:4333"
    assert local_nats_for("nats://localhost", tmp_path) == LocalNats(tmp_path, 4222)
    assert local_nats_for("nats://nats:4222", tmp_path) is None
    assert local_nats_for("tls://127.0.0.1:4222", tmp_path) is None


def test_start_status_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NATS_URL", f"nats://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AT_STREAM_BROKER_DIR", str(tmp_path / "var" / "kafka"))
    assert cli.main(["nats", "status"]) == 3
    try:
        assert cli.main(["nats", "start"]) == 0
        assert cli.main(["nats", "start"]) == 0  # already running: says so
        assert cli.main(["nats", "status"]) == 0
        assert (tmp_path / "var" / "nats" / "jetstream").is_dir()
    finally:
        assert cli.main(["nats", "stop"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("nats-server not running") and out[1].startswith("nats-server started")
    assert out[2].startswith("nats-server already running") and out[-1] == "nats-server stopped"


def test_a_remote_url_uses_no_local_server(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NATS_URL", "nats://nats.internal:4222")
    assert cli.main(["nats", "start"]) == 0
    assert "another host" in capsys.readouterr().out

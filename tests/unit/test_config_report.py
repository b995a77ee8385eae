"""``at-stream config``: values, their sources, masked secrets, one line per problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import cli, config_report
from app.settings import Settings


def test_sources_and_masking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("AT_STREAM_WEB_PORT=9100\nAPI_KEY_HMAC_SECRET=dot-env-secret-1\n")
    environ = {"AT_STREAM_APP_ID": "from-env", "API_KEY_HMAC_SECRET": "env-secret-value"}
    monkeypatch.chdir(tmp_path)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    entries = {e.variable: e for e in config_report.effective(Settings(), environ, env_file)}
    assert (entries["AT_STREAM_APP_ID"].value, entries["AT_STREAM_APP_ID"].source) == (
        "from-env", "env")  # fmt: skip
    assert (entries["AT_STREAM_WEB_PORT"].value, entries["AT_STREAM_WEB_PORT"].source) == (
        "9100", ".env")  # fmt: skip
    assert entries["API_KEY_HMAC_SECRET"].value == config_report.MASK
    assert entries["API_KEY_HMAC_SECRET"].source == "env"
    assert entries["AT_STREAM_TOPIC_PARTITIONS"].source == "default"
    text = config_report.render(list(entries.values()))
    assert "env-secret-value" not in text and "dot-env-secret-1" not in text
    assert len(entries) == len(Settings.model_fields)


def test_check_prints_one_line_per_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AT_STREAM_WEB_PORT", "not-a-port")
    monkeypatch.setenv("AT_STREAM_TOPIC_PARTITIONS", "0")
    assert cli.main(["config", "--check"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2
    assert {line.split(": ")[1] for line in lines} == {
        "AT_STREAM_WEB_PORT", "AT_STREAM_TOPIC_PARTITIONS"}  # fmt: skip


def test_check_of_a_valid_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("API_KEY_HMAC_SECRET", "a-long-enough-secret")
    assert cli.main(["config", "--check"]) == 0
    assert "valid" in capsys.readouterr().out


def test_check_without_any_secret_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("API_KEY_HMAC_SECRET", raising=False)
    assert cli.main(["config", "--check"]) == 2
    assert "API_KEY_HMAC_SECRET" in capsys.readouterr().err


def test_a_password_in_a_url_setting_is_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    environ = {"API_KEY_HMAC_SECRET": "env-secret-value",
               "NATS_URL": "nats://bridge:nats-pass-123@nats.example.com:4222"}  # fmt: skip
    monkeypatch.chdir(tmp_path)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    entries = {e.variable: e for e in config_report.effective(Settings(), environ)}
    assert entries["NATS_URL"].value == "nats://bridge:***@nats.example.com:4222"
    assert "nats-pass-123" not in config_report.render(list(entries.values()))


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("nats://u:p@h:4222", "nats://u:***@h:4222"),
        ("nats://s3cr3t-token@h:4222", "nats://***@h:4222"),  # NATS token authentication
        ("nats://h:4222", "nats://h:4222"),
        ("a@b.c", "a@b.c"),
        ("plain", "plain"),
    ],
)
def test_without_password(text: str, shown: str) -> None:
    assert config_report.without_password(text) == shown


def test_check_of_a_bad_nats_url_does_not_print_its_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("API_KEY_HMAC_SECRET", "a-long-enough-secret")
    monkeypatch.setenv("NATS_URL", "http://u:nats-pass-123@nats.example.com:4222")
    lines = config_report.problems()
    assert lines and lines[0].startswith("NATS_URL:")
    assert not any("nats-pass-123" in line for line in lines), lines

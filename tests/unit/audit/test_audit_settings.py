"""The audit settings: the store URL (a secret), its default, and retention."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.errors import ConfigError
from app.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the work tree
    for key in list(os.environ):
        if key.startswith("AT_STREAM_"):
            monkeypatch.delenv(key)


def test_default_is_sqlite_under_the_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AT_STREAM_DATA_DIR", str(tmp_path / "data"))
    s = load_settings()
    assert s.audit_store_url == f"sqlite:///{tmp_path / 'data' / 'audit.db'}"
    assert s.audit_sink and s.audit_retention_days is None and s.audit_retention_topics == {}


def test_url_is_a_secret_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AT_STREAM_AUDIT_URL", "postgresql://u:hunter2@db:5432/audit")
    s = load_settings()
    assert s.audit_store_url == "postgresql://u:hunter2@db:5432/audit"
    assert "hunter2" not in repr(s)
    monkeypatch.setenv("AT_STREAM_AUDIT_URL", "mysql://db/audit")
    with pytest.raises(ConfigError, match="AT_STREAM_AUDIT_URL"):
        load_settings()


def test_retention_per_topic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AT_STREAM_AUDIT_RETENTION_TOPICS", '{"dead-letters": 365, "fills": 0.5}')
    monkeypatch.setenv("AT_STREAM_AUDIT_RETENTION_DAYS", "90")
    s = load_settings()
    assert s.audit_retention_topics == {"dead-letters": 365, "fills": 0.5}
    assert s.audit_retention_days == 90
    monkeypatch.setenv("AT_STREAM_AUDIT_RETENTION_TOPICS", '{"fills": 0}')
    with pytest.raises(ConfigError, match="days must be > 0"):
        load_settings()

"""Unit tests of app.worker: the Faust worker without the spinner's DEBUG root logger."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import faust
import pytest

from app.worker import Worker

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    logger = logging.getLogger()
    level, handlers = logger.level, list(logger.handlers)
    try:
        yield logger
    finally:
        logger.setLevel(level)
        logger.handlers[:] = handlers


@pytest.mark.parametrize("cls", [faust.Worker, Worker])
def test_at_warn_the_root_logger_stays_at_warn_only_with_ours(
    cls: type[faust.Worker], root: logging.Logger
) -> None:
    worker = cls(faust.App("worker-test"), loglevel="warn")
    root.setLevel(logging.WARN)
    root.addHandler(logging.NullHandler())
    worker.on_setup_root_logger(root, logging.WARN)
    if cls is Worker:
        assert root.level == logging.WARN and worker.spinner is None
    else:  # Faust's own: the reason app.worker exists
        assert root.level == logging.DEBUG


def test_the_app_runs_our_worker(tmp_path: Path) -> None:
    """In a child process: importing ``app.main`` needs the settings (a secret)."""
    probe = "from app.main import app; print(app.conf.Worker.__module__, app.conf.Worker.__name__)"
    env = {**os.environ, "API_KEY_HMAC_SECRET": "worker-test-secret", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["app.worker", "Worker"]


def test_tune_gc_freezes_start_up_and_raises_the_thresholds() -> None:
    """In a child process: the test session's own collector is left as it is."""
    code = (
        "import gc\n"
        "from app.worker import GC_THRESHOLDS, tune_gc\n"
        "tune_gc()\n"
        "assert gc.get_threshold() == GC_THRESHOLDS == (10_000, 20, 20), gc.get_threshold()\n"
        "assert gc.get_freeze_count() > 10_000, gc.get_freeze_count()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_gc_tuning_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.settings import Settings

    monkeypatch.setenv("AT_STREAM_GC_TUNING", "false")
    assert Settings().gc_tuning is False
    monkeypatch.delenv("AT_STREAM_GC_TUNING")
    assert Settings().gc_tuning is True

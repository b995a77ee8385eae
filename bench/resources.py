"""RSS and CPU time of processes (psutil), sampled by a thread independent of the loop."""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

try:  # pinned for the bench; the ignore keeps mypy quiet where it is not installed
    import psutil  # type: ignore[import-not-found,import-untyped,unused-ignore]
except ImportError:  # the bench still runs; resource figures are then "not measured"
    psutil = None  # type: ignore[assignment,unused-ignore]

log = logging.getLogger(__name__)

MB = 1024 * 1024


def available() -> bool:
    return psutil is not None


def _tree(pid: int) -> list[Any]:
    proc = psutil.Process(pid)
    return [proc, *proc.children(recursive=True)]


def rss_bytes(pid: int) -> int:
    """RSS of ``pid`` and its children."""
    total = 0
    for p in _tree(pid):
        with contextlib.suppress(psutil.Error):
            total += int(p.memory_info().rss)
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its children so far."""
    total = 0.0
    for p in _tree(pid):
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


class Sampler:
    """Samples the RSS of labelled pids every ``interval`` seconds until stopped."""

    def __init__(self, pids: dict[str, int], interval: float = 0.25) -> None:
        self.pids = pids
        self.interval = interval
        self.samples: dict[str, list[int]] = {label: [] for label in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for label, pid in self.pids.items():
                with contextlib.suppress(psutil.Error):
                    self.samples[label].append(rss_bytes(pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        if psutil is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def summary(self) -> dict[str, dict[str, float | int]]:
        out: dict[str, dict[str, float | int]] = {}
        for label, values in self.samples.items():
            if values:
                out[label] = {
                    "max_mb": round(max(values) / MB, 1),
                    "mean_mb": round(sum(values) / len(values) / MB, 1),
                    "samples": len(values),
                }
        return out

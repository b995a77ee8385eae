"""What the run ran on: date, cores, memory, CPU model, versions, load."""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.broker import KAFKA_VERSION


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def describe() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "ram_gib": ram_gib(),
        "cpu_model": cpu_model(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "kafka": KAFKA_VERSION,
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def short(meta: dict[str, Any]) -> str:
    """``2 cores AMD EPYC, 23.4 GiB`` for table cells."""
    return f"{meta.get('nproc')} cores {meta.get('cpu_model')}, {meta.get('ram_gib')} GiB"

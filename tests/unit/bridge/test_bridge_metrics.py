"""The bridge's error series that exist from the start are the ones its code counts."""

from __future__ import annotations

import re
from pathlib import Path

from app.metrics import BRIDGE_ERROR_KINDS, BRIDGE_ERRORS, start_bridge_series

BRIDGE = Path(__file__).resolve().parents[3] / "app" / "bridge"
_COUNTED = re.compile(r'BRIDGE_ERRORS\.labels\(direction=(\w+|"[^"]+"), kind="([^"]+)"\)')
_DIRECTION = re.compile(r'^DIRECTION = "([^"]+)"', re.MULTILINE)


def counted() -> set[tuple[str, str]]:
    """(direction, kind) of every BRIDGE_ERRORS.labels(...) call in app/bridge."""
    out = set()
    for path in BRIDGE.glob("*.py"):
        text = path.read_text()
        own = _DIRECTION.search(text)
        for direction, kind in _COUNTED.findall(text):
            if direction == "DIRECTION":
                assert own, path
                direction = own.group(1)
            out.add((direction.strip('"'), kind))
    return out


def test_every_counted_error_series_is_started_at_zero() -> None:
    started = {(d, k) for d, kinds in BRIDGE_ERROR_KINDS.items() for k in kinds}
    assert counted() == started


def test_start_bridge_series_creates_them() -> None:
    start_bridge_series()
    samples = {(s.labels["direction"], s.labels["kind"])
               for m in BRIDGE_ERRORS.collect() for s in m.samples
               if s.name.endswith("_total")}  # fmt: skip
    assert samples >= {(d, k) for d, kinds in BRIDGE_ERROR_KINDS.items() for k in kinds}

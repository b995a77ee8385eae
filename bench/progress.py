"""Plain-text progress lines on stderr: ``[  12.3s] scenario: message``."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, *, quiet: bool = False) -> None:
        self.started = time.monotonic()
        self.quiet = quiet

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def __call__(self, scope: str, message: str) -> None:
        if self.quiet:
            return
        sys.stderr.write(f"[{self.elapsed:7.1f}s] {scope}: {message}\n")
        sys.stderr.flush()

"""The scenarios; each is ``async def run(ctx: Context) -> dict`` returning its results.

Every result has ``status``: ``measured``, ``not measured`` (with ``reason``) or ``failed``
(with ``error``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.modes import Mode
from bench.progress import Progress
from bench.stack import Stack, WorkerProc, unique


@dataclass
class Context:
    mode: Mode
    stack: Stack
    progress: Progress
    workdir: Path
    run_id: str
    main: WorkerProc  # a ready worker on the broker, shared by the HTTP scenarios
    cold: dict[str, Any] = field(default_factory=dict)  # what the bring-up measured
    incidents: list[str] = field(default_factory=list)  # e.g. a worker that crashed
    profile: bool = False  # py-spy the worker (the chain worker too, once caught up)
    out: Path | None = None  # where the run's files go (raw profiles)
    agents_profile: dict[str, Any] | None = None  # the chain worker's steady-state profile
    replay: bool = False  # reset and rebuild the chain worker's tables once caught up
    replay_result: dict[str, Any] | None = None  # scenario 8, measured by the chain

    @property
    def bootstrap(self) -> str:
        return self.stack.bootstrap

    async def ensure_main(self) -> WorkerProc:
        """The main worker, replaced by a fresh one (and the crash noted) if it died."""
        proc = self.main.proc
        if proc is not None and proc.poll() is None:
            return self.main
        crash = _last_error(self.main.log_tail(400))
        note = f"worker {self.main.prefix} exited ({None if proc is None else proc.returncode})"
        self.incidents.append(f"{note}: {crash}" if crash else note)
        self.progress("stack", f"{self.incidents[-1]}; starting a new one")
        self.main = self.stack.worker(unique("bench-main"))
        await self.main.wait_ready()
        return self.main


def _last_error(log_text: str) -> str:
    """The last ERROR/CRITICAL line of a worker log, or the last exception line."""
    lines = log_text.splitlines()
    for line in reversed(lines):
        if " ERROR " in line and "Crashed" in line:
            return line.split(" ERROR ", 1)[1][:300]
    for line in reversed(lines):
        if " ERROR " in line or line.startswith(("Traceback", "RuntimeError", "KeyError")):
            return line[:300]
    return ""


def not_measured(reason: str) -> dict[str, Any]:
    return {"status": "not measured", "reason": reason}

"""A real PostgreSQL server for tests and the bench: Debian's binaries, a temp cluster.

``ensure_binaries()`` finds ``initdb``/``pg_ctl`` of the newest ``/usr/lib/postgresql/<v>``
(or on ``PATH``); when they are missing and we are root it installs Debian's
``postgresql`` package with apt-get (``apt-get update`` first if the install fails), as
``make test`` does on a fresh machine; otherwise it raises naming the package. The
server refuses to run as root, so as root the cluster belongs to the ``postgres`` user
(the package creates it), in a directory of its own under the system temp dir.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from app.broker.launcher import free_port
from at_stream.testing.debian import apt_install

PACKAGE = "postgresql"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries, and they could not be installed."""


def _find() -> Path | None:
    root = Path("/usr/lib/postgresql")
    versions = sorted(
        (p for p in root.glob("*/bin") if (p / "initdb").exists() and (p / "pg_ctl").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1]
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


def ensure_binaries() -> Path:
    """The directory of ``initdb``, ``pg_ctl`` and ``postgres``, installed if need be."""
    found = _find()
    if found is None and apt_install(PACKAGE):
        found = _find()
    if found is None:
        raise PostgresUnavailable(f"PostgreSQL is not installed: apt-get install {PACKAGE}")
    return found


@dataclass
class Postgres:
    """One cluster: ``start()``, ``stop()`` (``immediate``: as if it crashed), ``url``."""

    bin_dir: Path
    directory: Path
    port: int
    run_as: str | None  # the OS user that owns the cluster when we are root

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin_dir / argv[0]), *argv[1:]]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
        if check and result.returncode:
            raise PostgresUnavailable(f"{argv[0]} failed: {result.stderr.strip()[-500:]}")
        return result

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--no-sync", "--no-instructions")  # fmt: skip

    def start(self) -> None:
        opts = f"-p {self.port} -h 127.0.0.1 -k {self.directory} -c max_connections=50"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.directory / "server.log"),
                  "-o", opts, "-w", "-t", "60", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop",
                  check=False)  # fmt: skip

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


def start_postgres(port: int | None = None) -> Postgres:
    """A started, empty cluster on a free port (trust auth on 127.0.0.1 only)."""
    bin_dir = ensure_binaries()
    directory = Path(tempfile.mkdtemp(prefix="at-stream-pg-"))
    run_as = None
    if os.geteuid() == 0:
        run_as = "postgres"
        if subprocess.run(["id", "-u", run_as], capture_output=True, check=False).returncode:
            subprocess.run(["useradd", "--system", "--no-create-home", run_as], check=True)
        shutil.chown(directory, run_as)
    pg = Postgres(bin_dir, directory, port or free_port(), run_as)
    pg.init()
    pg.start()
    return pg

"""Install a Debian package for a test's real server (PostgreSQL, Prometheus), once.

``apt_install(package)`` runs ``apt-get install`` as root, with ``apt-get update`` first
if the install fails, as ``make test`` does on a fresh machine. Test processes may run in
parallel (``pytest -n``): a file lock lets one install at a time, and apt's own lock is
waited for rather than failed on. Not root: nothing is tried; the caller names the package.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import tempfile
from pathlib import Path

LOCK = Path(tempfile.gettempdir()) / "at-stream-apt.lock"
_WAIT = ["-o", "DPkg::Lock::Timeout=600"]


def apt_install(package: str) -> bool:
    """Try to install ``package``; False if not root (the caller then checks for it)."""
    if os.geteuid() != 0:
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", *_WAIT, "install", "-y", "-qq", "--no-install-recommends", package]
    with LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if subprocess.run(install, env=env, capture_output=True, check=False).returncode:
            subprocess.run(["apt-get", *_WAIT, "update", "-qq"], env=env,
                           capture_output=True, check=False)  # fmt: skip
            subprocess.run(install, env=env, capture_output=True, check=False)
    return True

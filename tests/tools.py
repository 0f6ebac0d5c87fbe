"""Command-line tools the deployment tests run, installed from Debian when missing.

``tool("promtool")`` returns the path of the command, installing its package with
apt-get (as root) on a fresh machine, so no test skips for want of a tool. Installs are
serialised with a lock file: several test runs may share the machine.
"""

from __future__ import annotations

import fcntl
import shutil
import sys
from pathlib import Path

from tests.servers import _apt_install

PACKAGES = {
    "docker-compose": "docker-compose",
    "promtool": "prometheus",
    "haproxy": "haproxy",
    "shellcheck": "shellcheck",
}
LOCK = Path("/tmp/hallwatch-apt.lock")


def tool(name: str) -> str:
    """Path of ``name``: the virtualenv's, the system's, or installed now."""
    beside_python = Path(sys.executable).with_name(name)
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    if found:
        return found
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not shutil.which(name):
            _apt_install([PACKAGES[name]], f"`{name}` is needed to validate deploy/")
    found = shutil.which(name)
    assert found, f"{PACKAGES[name]} was installed but `{name}` is still not on PATH"
    return found

"""A PostgreSQL server of the test's own (initdb + pg_ctl on a free port), so a
test can restart it under load without touching the machine's shared one.

initdb refuses to run as root: as root the binaries run as the `postgres` user
(`runuser`), in a directory of its own under the system temp directory (pytest's
are private to root).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.servers import free_port


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise FileNotFoundError("no initdb: install the postgresql server package")
    return Path(initdb).parent


class PgInstance:
    def __init__(self, directory: Path, port: int) -> None:
        self.dir = directory
        self.data = directory / "data"
        self.port = port
        self.bin = _binaries()
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        cmd = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, timeout=timeout, cwd=self.dir)
        assert done.returncode == 0, f"{tool}: {done.stdout!r} {done.stderr!r}"

    def ctl(self, action: str, *args: str) -> None:
        """`pg_ctl <action>` on this instance, waiting for it to finish."""
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", action, "-w", "-D", str(self.data), "-l", str(self.dir / "log"),
            "-o", options, *args,
        )  # fmt: skip

    def restart(self, mode: str = "fast") -> None:
        self.ctl("restart", "-m", mode)


@contextlib.contextmanager
def pg_instance() -> Iterator[PgInstance]:
    """A running server on a free loopback port (user postgres, trust auth);
    stopped (immediate) and deleted afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="lsl-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    instance = PgInstance(directory, free_port())
    try:
        instance._run("initdb", "-D", str(instance.data), "-U", "postgres", "--auth=trust", "-N")
        instance.ctl("start")
        yield instance
    finally:
        with contextlib.suppress(Exception):
            instance.ctl("stop", "-m", "immediate")
        shutil.rmtree(directory, ignore_errors=True)

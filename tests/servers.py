"""Start a real uvicorn server in a subprocess on a free loopback port.

Shared by every test that needs a real socket: streaming, disconnects, the
browser tests and the compatibility suites (which start servers from other
virtualenvs, hence `python=`).
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _ephemeral_floor() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A loopback port nothing listens on, chosen below the kernel's ephemeral range.

    A port the kernel hands out for `bind(0)` is also one it hands out as the
    local end of outgoing connections: in the seconds a server takes to import
    and bind, a client connection (to Redis, to another server) could take it,
    and the server would exit with "address already in use". Ports below the
    ephemeral range are only ever taken by a bind, so only another test's server
    could race for one, and the random pick makes that unlikely.
    """
    floor = _ephemeral_floor()
    for _ in range(100):
        port = random.randrange(max(1024, floor - 12000), floor)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port below the ephemeral range")


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        # Polling a socket that is not open yet; there is no event to wait on.
        time.sleep(0.05)
    raise TimeoutError(f"server did not listen on port {port} within {timeout}s")


@contextlib.contextmanager
def run_uvicorn(
    app: str,
    *,
    python: str = sys.executable,
    cwd: Path = ROOT,
    env: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
    log_path: Path | None = None,
) -> Iterator[str]:
    """Run `python -m uvicorn APP` and yield its base URL; stop it by PID on exit.

    APP is `module:attr`; `cwd` and ROOT are on PYTHONPATH.
    """
    port = free_port()
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(cwd), str(ROOT), full_env.get("PYTHONPATH", "")) if p
    )
    cmd = [python, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--no-access-log", *extra_args]
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, cwd=cwd, env=full_env, stdout=log, stderr=log)
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if log_path:
            log.close()  # type: ignore[union-attr]

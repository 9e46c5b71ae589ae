"""Start, measure and stop the benchmarked uvicorn servers, each by its own PID.

Every server is one uvicorn process (one worker, asyncio loop, h11) pinned to core 0
with `taskset`, optionally under `valgrind --tool=callgrind` with instrumentation
off until `callgrind_on` (so start-up runs at near native speed).
"""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _raise_fd_limit() -> None:
    # 1,000 concurrent streams need more descriptors than the usual 1,024.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))


@dataclass
class Server:
    name: str
    python: str
    app: str
    core: str = "0"
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    callgrind_prefix: Path | None = None
    log: Path | None = None
    _dumps: int = field(default=0, repr=False)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, out_dir: Path, *, callgrind: bool = False, timeout: float = 240.0) -> None:
        self.port = free_port()
        self._dumps = 0  # callgrind numbers the dumps of each process from 1
        out_dir.mkdir(parents=True, exist_ok=True)
        cmd = ["taskset", "-c", self.core]
        if callgrind:
            self.callgrind_prefix = out_dir / f"callgrind.{self.name}"
            cmd += [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={self.callgrind_prefix}.%p",
            ]
        cmd += [self.python, "-m", "uvicorn", self.app, "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--workers", "1", "--loop", "asyncio"]
        cmd += ["--http", "h11", "--no-access-log", "--log-level", "warning"]
        # An inherited PYTHONPATH goes first, so a copy of langserve_like can be compared.
        path = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(ROOT)) if p)
        env = {**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}
        self.log = out_dir / f"{self.name}{'.callgrind' if callgrind else ''}.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                cwd=out_dir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_raise_fd_limit,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early; see {self.log}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.5),
            ):
                return
            time.sleep(0.2)  # polling a port that is not open yet
        self.stop()
        raise TimeoutError(f"{self.name} did not listen within {timeout}s; see {self.log}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.callgrind_prefix is not None:  # the final dump valgrind writes at exit
            for leftover in self.callgrind_prefix.parent.glob(f"{self.callgrind_prefix.name}.*"):
                leftover.unlink()

    # --- /proc -----------------------------------------------------------------------

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime

    def _status_kib(self, key: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise KeyError(key)

    def rss_kib(self) -> int:
        return self._status_kib("VmRSS")

    def peak_rss_kib(self) -> int:
        return self._status_kib("VmHWM")

    def reset_peak_rss(self) -> None:
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # resets VmHWM to VmRSS

    # --- callgrind -------------------------------------------------------------------

    def _control(self, *args: str) -> None:
        subprocess.run(
            ["callgrind_control", *args, str(self.pid)],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def callgrind_on(self) -> None:
        self._control("-i", "on")

    def callgrind_zero(self) -> None:
        self._control("-z")

    def callgrind_dump(self, keep: Path | None = None) -> int:
        """Instructions executed since the last zero (all threads); the dump is moved
        to `keep` (for callgrind_annotate) or deleted."""
        self._control("-d")
        self._dumps += 1
        path = Path(f"{self.callgrind_prefix}.{self.pid}.{self._dumps}")
        deadline = time.monotonic() + 60
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.1)  # the dump is written asynchronously by the server
        for line in path.read_text().splitlines():
            if line.startswith("summary:"):
                if keep is None:
                    path.unlink()
                else:
                    path.replace(keep)
                return int(line.split()[1])
        raise RuntimeError(f"no summary line in {path}")

"""A split deployment on this machine: an API server with no workers and
`langserve-like worker` processes, all on one runs database, for the failure
tests. Every process is started here and stopped by its PID.

The database comes from `LSL_TEST_RUNS_DATABASE` if set (a URL the engine
accepts), else a fresh SQLite file in the test's directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.runs import databases
from tests.servers import ROOT, free_port, wait_for_port

APP = "tests.runs.apps:app"
DATABASE_ENV = "LSL_TEST_RUNS_DATABASE"

# A lost worker is noticed within seconds: 3 s leases renewed every 0.5 s, a
# reaper every 0.5 s, and workers that poll for new runs every 0.2 s (a worker
# process is not woken by another process's creates on SQLite).
FAST = {"LSL_LEASE_TTL": "3", "LSL_HEARTBEAT": "0.5", "LSL_REAPER": "0.5", "LSL_POLL": "0.2"}


def runs_database(tmp_path: Path) -> str:
    return os.environ.get(DATABASE_ENV) or str(tmp_path / "runs.db")


def query(database: str, sql: str, *params: Any) -> list[Any]:
    """Rows of `sql` (with `?` placeholders) on the runs database."""
    return databases.query(database, sql, params)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `condition` (the processes give no event to wait on); seconds it took."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - start


class Cluster:
    def __init__(self, tmp_path: Path, database: str, **env: str) -> None:
        self.tmp = tmp_path
        self.database = database
        self.audit = tmp_path / "audit"
        self.worklog = tmp_path / "worklog"
        base = {k: v for k, v in os.environ.items() if not k.startswith("LSL_")}
        self.env = {
            **base,
            "PYTHONPATH": str(ROOT),
            "LSL_RUNS_DB": database,
            "LSL_AUDIT": str(self.audit),
            "LSL_WORKLOG": str(self.worklog),
            **FAST,
            **env,
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        self.stopped: set[int] = set()

    def _spawn(self, args: list[str], log: str) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "langserve_like", *args]
        with open(self.tmp / log, "ab") as out:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=out, stderr=out)
        self.procs.append(proc)
        return proc

    def start(
        self, workers: int, concurrency: int, *args: str, processes: int = 1
    ) -> tuple[str, list[subprocess.Popen[bytes]]]:
        """The API server (`processes` executing no runs) and `workers` worker
        processes, started at once (each takes seconds to import the app)."""
        port, api = self._api(processes, "api.log")
        started = [self.worker(concurrency, *args, wait=False) for _ in range(workers)]
        wait_for_port(port, api)
        for proc in started:
            self.ready(proc)
        return f"http://127.0.0.1:{port}", started

    def _api(self, processes: int, log: str) -> tuple[int, subprocess.Popen[bytes]]:
        port = free_port()
        serve = ["serve", APP, "--port", str(port), "--workers", str(processes)]
        return port, self._spawn([*serve, "--runs-workers", "0", "--log-level", "warning"], log)

    def replica(self) -> str:
        """Another API server (executing no runs) on the same database: a replica."""
        port, api = self._api(1, f"api-{len(self.procs)}.log")
        wait_for_port(port, api)
        return f"http://127.0.0.1:{port}"

    def worker(self, concurrency: int, *args: str, wait: bool = True) -> subprocess.Popen[bytes]:
        """A worker process, once it executes runs (`wait`)."""
        log = f"worker-{len(self.procs)}.log"
        proc = self._spawn(["worker", APP, "--concurrency", str(concurrency), *args], log)
        if wait:
            self.ready(proc)
        return proc

    def log(self, proc: subprocess.Popen[bytes]) -> str:
        return (self.tmp / f"worker-{self.procs.index(proc)}.log").read_text()

    def ready(self, proc: subprocess.Popen[bytes]) -> None:
        ready = f"langserve-like worker {proc.pid}: executing"
        wait_until(
            lambda: proc.poll() is not None or ready in self.log(proc), 60, "the worker's start"
        )
        assert proc.poll() is None, self.log(proc)

    def send(self, proc: subprocess.Popen[bytes], signum: int) -> None:
        if proc.poll() is not None:
            return
        os.kill(proc.pid, signum)
        if signum == signal.SIGSTOP:
            self.stopped.add(proc.pid)
        elif signum == signal.SIGCONT:
            self.stopped.discard(proc.pid)

    def in_flight(self, run_ids: list[str]) -> int:
        rows = query(
            self.database, "SELECT run_id FROM lsl_runs WHERE status IN ('pending', 'running')"
        )
        wanted = set(run_ids)
        return sum(row[0] in wanted for row in rows)

    def statuses(self) -> dict[str, str]:
        return dict(query(self.database, "SELECT run_id, status FROM lsl_runs"))

    def close(self, *, graceful: bool = True) -> None:
        """Stop every process started here: SIGTERM (drain), then SIGKILL."""
        for proc in self.procs:
            if proc.poll() is None:
                self.send(proc, signal.SIGCONT)
                if graceful:
                    proc.terminate()
                else:
                    proc.kill()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(graceful=exc[0] is None)

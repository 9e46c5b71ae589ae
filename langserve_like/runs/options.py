"""`Runs`: the options of the threads-and-background-runs engine."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

__all__ = ["DEFAULT_DATABASE", "WORKERS_ENV", "Runs"]

DEFAULT_DATABASE = "./.langserve_like/runs.db"
# Overrides `Runs.workers` when the engine starts, so that one app file serves as
# an API replica (0) and, under `langserve-like worker`, as a worker process.
WORKERS_ENV = "LSL_RUNS_WORKERS"
Durability = Literal["sync", "async", "exit"]


@dataclass(frozen=True)
class Runs:
    """How `add_routes(..., runs=Runs(...))` stores and executes runs.

    `database` is a SQLite file (default: `DATABASE_URI` if it names a file,
    else `./.langserve_like/runs.db`); runs, threads, events, checkpoints and the
    store all live in it. `prefix` moves the LangGraph-compatible API (default:
    the app root, as the LangGraph server has it). `workers` is how many runs this
    process executes at once (0: API only, another process executes; the
    `LSL_RUNS_WORKERS` environment variable overrides it). A run whose
    worker stops renewing its lease for `lease_ttl` seconds is retried, at most
    `max_failures` times in all. A failed run reports its exception's type; its
    message only with `expose_error_messages` (messages can carry secrets).
    """

    database: str | None = None
    prefix: str = ""
    workers: int = 8
    lease_ttl: float = 30.0
    heartbeat: float = 10.0
    reaper_interval: float = 10.0
    poll_interval: float = 1.0
    loop_stall_limit: float = 60.0
    max_failures: int = 3
    durability: Durability = "sync"
    synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    stream_retention: float = 3600.0
    shutdown_grace: float = 10.0
    expose_error_messages: bool = False

    def __post_init__(self) -> None:
        if self.prefix and (not self.prefix.startswith("/") or self.prefix.endswith("/")):
            raise ValueError(f"prefix must start with '/' and not end with it, got {self.prefix!r}")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}")
        if not 0 < self.heartbeat < self.self_fence_after:
            # A worker gives its run up when it could not renew for 2/3 of the lease.
            raise ValueError("heartbeat must be positive and below 2/3 of lease_ttl")
        if self.max_failures < 1:
            raise ValueError(f"max_failures must be >= 1, got {self.max_failures}")

    def with_environment(self) -> Runs:
        """These options with `LSL_RUNS_WORKERS` applied if it is set."""
        raw = os.environ.get(WORKERS_ENV, "").strip()
        if not raw:
            return self
        if not raw.isdigit():
            raise ValueError(f"{WORKERS_ENV} must be a number >= 0, got {raw!r}")
        return replace(self, workers=int(raw))

    def database_path(self) -> Path:
        """The SQLite file, its directory created if missing."""
        raw = self.database or _from_env() or DEFAULT_DATABASE
        for scheme in ("sqlite+aiosqlite:///", "sqlite:///"):
            if raw.startswith(scheme):
                raw = raw[len(scheme) :]
        if "://" in raw:
            raise ValueError(
                f"Runs(database=...) takes a SQLite file path; got {raw.split('://')[0]}:// "
                "(PostgreSQL is not supported by the embedded engine)"
            )
        path = Path(raw).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def self_fence_after(self) -> float:
        """A worker that could not renew for this long gives the run up itself."""
        return self.lease_ttl * 2 / 3


def _from_env() -> str | None:
    uri = os.environ.get("DATABASE_URI", "")
    return uri if uri and "://" not in uri.replace("sqlite:///", "") else None

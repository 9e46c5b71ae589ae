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
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


@dataclass(frozen=True)
class Runs:
    """How `add_routes(..., runs=Runs(...))` stores and executes runs.

    `database` is a SQLite file or a `postgresql://` URL (default: `DATABASE_URI`
    if set, else `./.langserve_like/runs.db`); runs, threads, events, checkpoints
    and the store all live in it. On PostgreSQL several processes and hosts can
    share the queue (`workers=0` for API-only replicas). `prefix` moves the
    LangGraph-compatible API (default: the app root, as the LangGraph server has
    it). `workers` is how many runs this process executes at once (0: API only,
    another process executes; the `LSL_RUNS_WORKERS` environment variable
    overrides it). A run whose worker stops renewing its lease for
    `lease_ttl` seconds is retried, at most `max_failures` times in all. A failed
    run reports its exception's type; its message only with
    `expose_error_messages` (messages can carry secrets).

    `redis` (default: `REDIS_URI`) streams the events of a run executing in one
    process to clients of any other process at once, and carries cancels to the
    process executing the run; the database stays the record, so with Redis
    down runs go on and streams read the database. `require_redis` makes `/ok`
    answer 503 while Redis is unreachable.
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
    redis: str | None = None
    require_redis: bool = False

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
        self.redis_url()  # a bad URL, or require_redis without one, fails here

    def postgres_url(self) -> str | None:
        """The PostgreSQL URL, as psycopg takes it; None for a SQLite file."""
        raw = self._raw_database()
        scheme, sep, rest = raw.partition("://")
        # SQLAlchemy-style URLs name a driver too: postgresql+psycopg://, postgres+asyncpg://
        if sep and scheme.split("+")[0] in ("postgresql", "postgres"):
            return f"postgresql://{rest}"
        return None

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
        raw = self._raw_database()
        for scheme in ("sqlite+aiosqlite:///", "sqlite:///"):
            if raw.startswith(scheme):
                raw = raw[len(scheme) :]
        if "://" in raw:
            raise ValueError(
                "Runs(database=...) takes a SQLite file path or a postgresql:// URL;"
                f" got {raw.split('://')[0]}://"
            )
        path = Path(raw).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def _raw_database(self) -> str:
        return self.database or _from_env() or DEFAULT_DATABASE

    def redis_url(self) -> str | None:
        """The Redis URL (`redis`, else `REDIS_URI`), or None: no Redis."""
        url = self.redis or os.environ.get("REDIS_URI") or None
        if url is None:
            if self.require_redis:
                raise ValueError("require_redis=True needs Runs(redis=...) or REDIS_URI")
            return None
        return _check_redis(url)

    @property
    def self_fence_after(self) -> float:
        """A worker that could not renew for this long gives the run up itself."""
        return self.lease_ttl * 2 / 3


def _from_env() -> str | None:
    """`DATABASE_URI` if it names a database the engine can use: the app may set it
    for a database of its own (MySQL, say), which the runs then leave alone."""
    uri = os.environ.get("DATABASE_URI", "")
    scheme = uri.partition("://")[0].split("+")[0] if "://" in uri else "file"
    return uri if uri and scheme in ("file", "sqlite", "postgresql", "postgres") else None


def _check_redis(url: str) -> str:
    if not url.startswith(REDIS_SCHEMES):
        # Only the scheme is echoed: the rest of the URL may hold a password.
        scheme = url.split("://")[0] + "://" if "://" in url else "no scheme"
        raise ValueError(f"redis must be a redis://, rediss:// or unix:// URL, got {scheme}")
    return url

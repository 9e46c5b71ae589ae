"""The databases the runs tests run against: a fresh SQLite file, or a fresh
PostgreSQL database on 127.0.0.1:5432 (user postgres, trust auth) per use.

Without PostgreSQL the PostgreSQL tests skip on a developer's machine, naming the
command that starts it; in CI (CI=true) they fail, since scripts/test starts it.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PG_ROOT = os.environ.get("LSL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


def _admin() -> Any:
    import psycopg

    return psycopg.connect(f"{PG_ROOT}/postgres", autocommit=True, connect_timeout=3)


def require_postgres() -> None:
    """Skip (or, in CI, fail) unless PostgreSQL answers."""
    try:
        import psycopg

        with _admin():
            pass
    except (ImportError, psycopg.Error) as exc:
        message = (
            f"PostgreSQL is not answering on {PG_ROOT} ({type(exc).__name__}); "
            f"start it with: {START_POSTGRES}"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@contextlib.contextmanager
def fresh_postgres() -> Iterator[str]:
    """The URL of a new, empty database, dropped afterwards."""
    require_postgres()
    name = f"lsl_t_{uuid.uuid4().hex[:12]}"
    with _admin() as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{PG_ROOT}/{name}"
    finally:
        drop_postgres(f"{PG_ROOT}/{name}")


def drop_postgres(url: str) -> None:
    """Drop the database, closing whatever connections it still has."""
    name = url.rsplit("/", 1)[1]
    with _admin() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def fresh_database(backend: str, directory: Path) -> Iterator[str]:
    """What `Runs(database=...)` takes: a SQLite file or a PostgreSQL URL."""
    if backend == "postgres":
        with fresh_postgres() as url:
            yield url
    else:
        yield str(directory / "runs.db")


def query(database: str, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of `sql` (`?` placeholders) on the server's database, either kind."""
    if database.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(database, autocommit=True) as conn:
            return [tuple(r) for r in conn.execute(sql.replace("?", "%s"), args).fetchall()]
    import sqlite3

    # Worker processes may hold the file's write lock for a while: wait for it.
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as db:
        return [tuple(r) for r in db.execute(sql, args).fetchall()]

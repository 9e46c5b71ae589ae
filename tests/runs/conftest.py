"""A real uvicorn serving `tests.runs.apps`, on a fresh database per module: once
on a SQLite file and once on a PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient

from tests.runs.databases import fresh_database
from tests.servers import run_uvicorn

APP = "tests.runs.apps:app"


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def database(backend: str, runs_dir: Path) -> Iterator[str]:
    """What the module's server has as `Runs(database=...)`."""
    with fresh_database(backend, runs_dir) as database:
        yield database


@pytest.fixture(scope="module")
def server(database: str, runs_dir: Path) -> Iterator[str]:
    env = {"LSL_RUNS_DB": database}
    with run_uvicorn(APP, env=env, log_path=runs_dir / "server.log") as url:
        yield url


@pytest.fixture
def client(server: str) -> Iterator[SyncLangGraphClient]:
    with get_sync_client(url=server) as client:
        yield client


@pytest.fixture(params=["sqlite", "postgres"])
def failure_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database of each kind for one failure test's processes."""
    with fresh_database(str(request.param), tmp_path) as database:
        yield database

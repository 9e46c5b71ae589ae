"""A real uvicorn serving `tests.runs.apps`, on a fresh SQLite file per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient

from tests.servers import run_uvicorn

APP = "tests.runs.apps:app"


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def server(runs_dir: Path) -> Iterator[str]:
    env = {"LSL_RUNS_DB": str(runs_dir / "runs.db")}
    with run_uvicorn(APP, env=env, log_path=runs_dir / "server.log") as url:
        yield url


@pytest.fixture
def client(server: str) -> Iterator[SyncLangGraphClient]:
    with get_sync_client(url=server) as client:
        yield client

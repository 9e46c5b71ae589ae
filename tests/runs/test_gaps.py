"""Per-run durability, a client leaving a wait, and /ok when the file is gone,
through LangGraph's own SDK against a real uvicorn."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.client import SyncLangGraphClient

from tests.runs.conftest import APP
from tests.servers import run_uvicorn

STEP_SECONDS = 0.4  # each of the three `steps` nodes: a run lasts about 1.2 s
SLOW_SECONDS = 6.0  # a `slow` run: longer than the wait's keep-alive period


@pytest.fixture(scope="module")
def server(runs_dir: Path) -> Iterator[str]:
    env = {
        "LSL_RUNS_DB": str(runs_dir / "runs.db"),
        "LSL_STEP_SECONDS": str(STEP_SECONDS),
        "LSL_SLOW_SECONDS": str(SLOW_SECONDS),
    }
    with run_uvicorn(APP, env=env, log_path=runs_dir / "server.log") as url:
        yield url


def _history_steps(client: SyncLangGraphClient, durability: str | None) -> list[int]:
    tid = client.threads.create()["thread_id"]
    kwargs: dict[str, Any] = {} if durability is None else {"durability": durability}
    values = client.runs.wait(tid, "steps", input={"steps": []}, **kwargs)
    assert values == {"steps": ["a", "b", "c"]}
    return [s["metadata"]["step"] for s in client.threads.get_history(tid, limit=20)]


def test_durability_exit_keeps_only_the_final_checkpoint(client: SyncLangGraphClient) -> None:
    assert _history_steps(client, "exit") == [3]


def test_durability_sync_and_async_keep_every_superstep(client: SyncLangGraphClient) -> None:
    every = [3, 2, 1, 0, -1]
    assert _history_steps(client, "sync") == every
    assert _history_steps(client, "async") == every
    assert _history_steps(client, None) == every  # the server's default: sync


async def _leave_wait(server: str, on_disconnect: str, keepalive: bool = True) -> tuple[str, str]:
    """Create a `steps` run with `runs.wait`, leave once it is running; its ids.
    `keepalive=False` asks without the SDK, which always keeps the wait alive."""
    client = get_client(url=server)
    raw = httpx.AsyncClient(timeout=30)
    tid = (await client.threads.create())["thread_id"]
    if keepalive:
        call = client.runs.wait(tid, "steps", input={"steps": []}, on_disconnect=on_disconnect)  # type: ignore[arg-type]
    else:
        body = {"assistant_id": "steps", "input": {"steps": []}, "on_disconnect": on_disconnect}
        url = f"{server}/threads/{tid}/runs/wait?keepalive=false"
        call = raw.post(url, json=body)
    waiting = asyncio.ensure_future(call)
    deadline = asyncio.get_running_loop().time() + 10
    runs: list[Any] = []
    while not (runs and runs[0]["status"] == "running"):
        assert asyncio.get_running_loop().time() < deadline, "the run never started"
        runs = await client.runs.list(tid, limit=1)
    waiting.cancel()  # the client goes away: its connection closes
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await client.aclose()
    await raw.aclose()
    return tid, runs[0]["run_id"]


@pytest.mark.parametrize("keepalive", [True, False])
def test_wait_on_disconnect_cancel_interrupts_the_run(
    client: SyncLangGraphClient, server: str, keepalive: bool
) -> None:
    tid, rid = asyncio.run(_leave_wait(server, "cancel", keepalive))
    client.runs.join(tid, rid)
    assert client.runs.get(tid, rid)["status"] == "interrupted"
    assert client.threads.get_state(tid)["values"]["steps"] != ["a", "b", "c"]


def test_wait_on_disconnect_continue_lets_the_run_finish(
    client: SyncLangGraphClient, server: str
) -> None:
    tid, rid = asyncio.run(_leave_wait(server, "continue"))
    assert client.runs.join(tid, rid) == {"steps": ["a", "b", "c"]}
    assert client.runs.get(tid, rid)["status"] == "success"


def _leave_stream(client: SyncLangGraphClient, on_disconnect: str) -> tuple[str, str]:
    """Stream a `steps` run, leave after its first event; its ids."""
    tid = client.threads.create()["thread_id"]
    parts = client.runs.stream(
        tid,
        "steps",
        input={"steps": []},
        on_disconnect=on_disconnect,  # type: ignore[arg-type]
    )
    first = next(parts)
    assert first.event == "metadata"
    parts.close()  # the client goes away: its connection closes
    return tid, first.data["run_id"]


def test_stream_on_disconnect_cancel_through_the_sdk(client: SyncLangGraphClient) -> None:
    tid, rid = _leave_stream(client, "cancel")
    client.runs.join(tid, rid)
    assert client.runs.get(tid, rid)["status"] == "interrupted"


def test_stream_on_disconnect_continue_through_the_sdk(client: SyncLangGraphClient) -> None:
    tid, rid = _leave_stream(client, "continue")
    assert client.runs.join(tid, rid) == {"steps": ["a", "b", "c"]}
    assert client.runs.get(tid, rid)["status"] == "success"


def test_wait_longer_than_the_keepalive_period_still_returns_the_values(
    client: SyncLangGraphClient, server: str
) -> None:
    tid = client.threads.create()["thread_id"]
    # Headers and keep-alive newlines go out before the values: still one JSON body.
    assert client.runs.wait(tid, "slow", input={"messages": ["x"]}) == {"messages": ["x", "done"]}
    with httpx.Client(base_url=server) as http:
        body = {"assistant_id": "echo", "input": {"messages": ["y"]}}
        quick = http.post(f"/threads/{tid}/runs/wait", json=body)
    # A run done within the period: the whole document, with its length.
    assert quick.headers["content-length"] == str(len(quick.content))
    assert quick.json()["messages"][-1] == "echo: y"


def test_ok_is_503_once_the_database_file_is_removed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    env = {"LSL_RUNS_DB": str(data / "runs.db")}
    with (
        run_uvicorn(APP, env=env, log_path=tmp_path / "server.log") as url,
        get_sync_client(url=url) as client,
    ):
        tid = client.threads.create()["thread_id"]
        assert client.runs.wait(tid, "echo", input={"messages": ["hi"]})
        assert client.http.client.get("/ok").status_code == 200
        # The data directory goes away under the running server (a volume
        # unmounted, a cleanup job): the open connections would go on working
        # on the unlinked file, so only /ok can tell.
        shutil.rmtree(data)
        response = client.http.client.get("/ok")
        assert response.status_code == 503
        assert response.json() == {
            "ok": False,
            "services": {"database": "unhealthy", "error": "OperationalError"},
        }
        # And a file put back in its place is not the one this server writes to.
        data.mkdir()
        (data / "runs.db").write_bytes(b"")
        assert client.http.client.get("/ok").status_code == 503

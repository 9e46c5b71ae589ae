"""RemoteRunnable over a real socket: timeouts, connection reuse, closing, exit.

The server is `tests/client_app.py` under uvicorn, in its own process.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator

import httpx
import pytest

from langserve_like import RemoteRunnable
from langserve_like.exceptions import RemoteServerError, RemoteTimeout
from tests.servers import ROOT, run_uvicorn

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with run_uvicorn("tests.client_app:app") as url:
        yield url


def test_remote_times_out_with_remote_timeout(server: str) -> None:
    with RemoteRunnable(f"{server}/slow", timeout=0.3) as slow:
        with pytest.raises(RemoteTimeout) as caught:
            slow.invoke(3)

    assert isinstance(caught.value, httpx.TimeoutException)


@pytest.mark.anyio
async def test_remote_astream_times_out_with_remote_timeout(server: str) -> None:
    async with RemoteRunnable(f"{server}/slow", timeout=0.3) as slow:
        with pytest.raises(RemoteTimeout):
            async for _ in slow.astream(3):
                pass


def test_remote_keeps_working_after_a_server_error(server: str) -> None:
    with RemoteRunnable(f"{server}/fail_invoke") as failing:
        with pytest.raises(RemoteServerError) as caught:
            failing.invoke(1)
        assert caught.value.run_id is not None

        # Same client, same pooled connection.
        add_one = RemoteRunnable(f"{server}/add_one", client=failing.sync_client)
        assert add_one.invoke(1) == 2


@pytest.mark.anyio
async def test_remote_closes_only_the_clients_it_created(server: str) -> None:
    async with httpx.AsyncClient() as given:
        async with RemoteRunnable(f"{server}/add_one", async_client=given) as remote:
            assert await remote.ainvoke(1) == 2
            own_sync = remote.sync_client
            assert remote.invoke(2) == 3

        assert own_sync.is_closed
        assert not given.is_closed


def test_remote_exits_the_interpreter_quietly(server: str) -> None:
    """No finaliser noise: LangServe's client printed "Event loop is closed"."""
    script = textwrap.dedent(
        f"""
        import asyncio
        from langserve_like import RemoteRunnable

        remote = RemoteRunnable("{server}/add_one")
        assert remote.invoke(1) == 2
        assert list(remote.stream(1)) == [2]
        # Two event loops in a row, never closing anything.
        assert asyncio.run(remote.ainvoke(1)) == 2
        assert asyncio.run(remote.ainvoke(2)) == 3
        print("ok")
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )

    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "ok\n", "")

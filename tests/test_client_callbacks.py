"""Server callback events replayed into the client's handlers.

A tracer on the client must see the server-side runs as children of the remote
call, on invoke and batch, and on every stream when asked for
(`stream_server_callback_events=True`; by default streams trace only the client's
run, as with LangServe's client), with fresh run ids.

Over a real socket: in process (ASGITransport) the server would run inside the
client's context and inherit its callbacks, which would hide a broken replay.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig

from langserve_like import RemoteRunnable
from langserve_like.exceptions import RemoteRunError, StreamError
from tests.compat.client_scenarios import RunTree
from tests.servers import run_uvicorn

TOPIC = {"topic": "cats"}
SERVER_TREE = [
    [1, "/chat_callbacks", "chain", False],
    [2, "ChatPromptTemplate", "prompt", False],
    [2, "GenericFakeChatModel", "llm", False],
    [2, "StrOutputParser", "parser", False],
]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with run_uvicorn("tests.client_app:app") as url:
        yield url


@pytest.fixture
async def remote(server: str) -> AsyncIterator[RemoteRunnable]:
    async with RemoteRunnable(
        f"{server}/chat_callbacks", stream_server_callback_events=True
    ) as remote:
        yield remote


@pytest.fixture
def sync_remote(server: str) -> Iterator[RemoteRunnable]:
    with RemoteRunnable(f"{server}/chat_callbacks", stream_server_callback_events=True) as remote:
        yield remote


async def _drain(iterator: AsyncIterator[Any]) -> None:
    async for _ in iterator:
        pass


ASYNC_CALLS: dict[str, Callable[[RemoteRunnable, RunnableConfig], Awaitable[Any]]] = {
    "ainvoke": lambda r, c: r.ainvoke(TOPIC, c),
    "abatch": lambda r, c: r.abatch([TOPIC], c),
    "astream": lambda r, c: _drain(r.astream(TOPIC, c)),
    "astream_log": lambda r, c: _drain(r.astream_log(TOPIC, c)),
    "astream_events": lambda r, c: _drain(r.astream_events(TOPIC, c, version="v2")),
}
SYNC_CALLS: dict[str, Callable[[RemoteRunnable, RunnableConfig], Any]] = {
    "invoke": lambda r, c: r.invoke(TOPIC, c),
    "batch": lambda r, c: r.batch([TOPIC], c),
    "stream": lambda r, c: list(r.stream(TOPIC, c)),
}


@pytest.mark.anyio
@pytest.mark.parametrize("method", ASYNC_CALLS)
async def test_remote_replays_server_runs_under_the_client_run(
    method: str, remote: RemoteRunnable
) -> None:
    tracer = RunTree()
    await ASYNC_CALLS[method](remote, {"callbacks": [tracer]})

    assert tracer.tree() == [[0, "RemoteRunnable", "chain", False], *SERVER_TREE]


@pytest.mark.parametrize("method", SYNC_CALLS)
def test_remote_sync_replays_server_runs_under_the_client_run(
    method: str, sync_remote: RemoteRunnable
) -> None:
    tracer = RunTree()
    SYNC_CALLS[method](sync_remote, {"callbacks": [tracer]})

    assert tracer.tree() == [[0, "RemoteRunnable", "chain", False], *SERVER_TREE]


@pytest.mark.anyio
async def test_remote_replay_uses_fresh_run_ids_per_call(remote: RemoteRunnable) -> None:
    tracer = RunTree()
    await remote.ainvoke(TOPIC, {"callbacks": [tracer]})
    await remote.ainvoke(TOPIC, {"callbacks": [tracer]})

    ids = [run.id for root in tracer.roots for run in _walk(root)]
    assert len(ids) == len(set(ids)) == 10


@pytest.mark.anyio
async def test_remote_replays_server_errors_without_their_text(server: str) -> None:
    tracer = RunTree()
    url = f"{server}/fail_callbacks"
    async with RemoteRunnable(url, stream_server_callback_events=True) as failing:
        with pytest.raises(StreamError):
            await _drain(failing.astream("hi", {"callbacks": [tracer]}))

    (root,) = tracer.roots
    (server_run,) = root.child_runs
    assert server_run.name == "/fail_callbacks"
    assert server_run.error is not None
    assert "secret" not in server_run.error
    assert RemoteRunError.__name__ in server_run.error


@pytest.mark.anyio
async def test_remote_skips_replay_when_disabled(server: str) -> None:
    tracer = RunTree()
    url = f"{server}/chat_callbacks"
    async with RemoteRunnable(url, use_server_callback_events=False) as remote:
        await remote.ainvoke(TOPIC, {"callbacks": [tracer]})
        await _drain(remote.astream(TOPIC, {"callbacks": [tracer]}))

    assert tracer.tree() == [[0, "RemoteRunnable", "chain", False]] * 2


@pytest.mark.anyio
async def test_remote_streams_trace_only_the_client_run_by_default(server: str) -> None:
    tracer = RunTree()
    async with RemoteRunnable(f"{server}/chat_callbacks") as remote:
        await _drain(remote.astream(TOPIC, {"callbacks": [tracer]}))
        await _drain(remote.astream_events(TOPIC, {"callbacks": [tracer]}, version="v2"))
        await remote.ainvoke(TOPIC, {"callbacks": [tracer]})

    client_run = [0, "RemoteRunnable", "chain", False]
    assert tracer.tree() == [client_run, client_run, client_run, *SERVER_TREE]


def _walk(run: Any) -> Iterator[Any]:
    yield run
    for child in run.child_runs:
        yield from _walk(child)

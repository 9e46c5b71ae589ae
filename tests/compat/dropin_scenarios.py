"""What code written for LangServe's Python client can observe, made by either client.

Importable from both virtualenvs, like `client_scenarios.py`: the official
`langserve.RemoteRunnable` runs these in .venv-langserve,

    .venv-langserve/bin/python -m tests.compat.dropin_scenarios http://127.0.0.1:8000

and `langserve_like.RemoteRunnable` runs them in the test process; both against a
LangServe 0.3.3 server and a langserve_like server. Every scenario is one thing
user code or a test suite does with the client: inject httpx clients, read `.url`,
pipe a prompt into a remote chat model, read prompt values out of
astream_events / astream_log, trace callbacks, catch a timeout by its httpx class,
pass extra keyword arguments.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tracers.schemas import Run

from tests.compat.client_scenarios import CONFIG_HASH, TIMEOUT, RunTree, close, describe

SHORT = 0.3  # client timeout (s) the slow routes exceed
SLOW = 3.0  # how long the slow routes take (s)
TOPIC = {"topic": "cats"}

Make = Callable[..., Any]  # (route path, **RemoteRunnable options) -> RemoteRunnable
Scenario = Callable[[Make, str], Awaitable[Any]]  # (make, server base URL) -> JSON


def error(exc: BaseException) -> dict[str, Any]:
    """An exception as callers catch it: its httpx and builtin classes (ours may add
    subclasses of them), its HTTP status, and the message of a local error."""
    classes = [
        cls.__name__
        for cls in type(exc).__mro__
        if cls.__module__.split(".")[0] in ("httpx", "builtins")
    ]
    response = getattr(exc, "response", None) if isinstance(exc, httpx.HTTPStatusError) else None
    view: dict[str, Any] = {"error": classes, "status_code": getattr(response, "status_code", None)}
    if isinstance(exc, NotImplementedError):
        view["message"] = str(exc)
    return view


async def outcome(call: Callable[[], Awaitable[Any]]) -> Any:
    try:
        return describe(await call())
    except Exception as exc:
        return error(exc)


async def chunks(iterator: AsyncIterator[Any]) -> dict[str, Any]:
    seen: list[Any] = []
    try:
        async for item in iterator:
            seen.append(item)
    except Exception as exc:
        return {"chunks": describe(seen), **error(exc)}
    return {"chunks": describe(seen)}


def sync_chunks(iterator: Iterator[Any]) -> dict[str, Any]:
    seen: list[Any] = []
    try:
        for item in iterator:
            seen.append(item)
    except Exception as exc:
        return {"chunks": describe(seen), **error(exc)}
    return {"chunks": describe(seen)}


async def in_thread(call: Callable[[], Any]) -> Any:
    """Sync client calls off the event loop (the probe's loop must keep running)."""
    return await asyncio.to_thread(call)


# --- 9: injected httpx clients and the url ---------------------------------------


async def _urls(make: Make, base: str) -> list[str]:
    paths = ["/add_one", "/add_one/", f"/configurable/c/{CONFIG_HASH}"]
    return [describe(make(path).url.replace(base, "<base>")) for path in paths]


async def _assigned_sync_client(make: Make, base: str) -> Any:
    remote = make("/add_one")
    with httpx.Client(base_url=f"{base}/add_one", timeout=TIMEOUT) as given:
        remote.sync_client = given

        def calls() -> Any:
            return [remote.invoke(1), remote.batch([1, 2]), list(remote.stream(3))]

        return [await in_thread(calls), remote.sync_client is given]


async def _assigned_async_client(make: Make, base: str) -> Any:
    remote = make("/add_one")
    async with httpx.AsyncClient(base_url=f"{base}/add_one", timeout=TIMEOUT) as given:
        remote.async_client = given
        answers = [
            await remote.ainvoke(1),
            await remote.abatch([1, 2]),
            [chunk async for chunk in remote.astream(3)],
        ]
        return [answers, remote.async_client is given]


async def _assigned_client_base_url_is_used(make: Make, base: str) -> Any:
    """LangServe's client sends to the assigned client's base_url."""
    remote = make("/add_one")
    async with httpx.AsyncClient(base_url=f"{base}/parallel", timeout=TIMEOUT) as given:
        remote.async_client = given
        return await outcome(lambda: remote.ainvoke(5))


# --- 10: prompt | RemoteRunnable(chat model) ----------------------------------------


def _prompt_then(make: Make) -> Any:
    prompt = ChatPromptTemplate.from_messages([("human", "tell me a joke about {topic}")])
    return prompt | make("/model")


def _piped(name: str) -> Scenario:
    async def scenario(make: Make, base: str) -> Any:
        return await PROMPT_CALLS[name](_prompt_then(make))

    return scenario


PROMPT_CALLS: dict[str, Callable[[Any], Awaitable[Any]]] = {
    "invoke": lambda chain: outcome(lambda: in_thread(lambda: chain.invoke(TOPIC))),
    "ainvoke": lambda chain: outcome(lambda: chain.ainvoke(TOPIC)),
    "batch": lambda chain: outcome(lambda: in_thread(lambda: chain.batch([TOPIC, TOPIC]))),
    "abatch": lambda chain: outcome(lambda: chain.abatch([TOPIC])),
    "stream": lambda chain: in_thread(lambda: sync_chunks(chain.stream(TOPIC))),
    "astream": lambda chain: chunks(chain.astream(TOPIC)),
}


# --- 11: decoding and replayed callback events -----------------------------------


async def _prompt_value_in_events(make: Make, base: str) -> Any:
    remote = make("/chat")
    events = [event async for event in remote.astream_events(TOPIC, version="v2")]
    return [
        [event["event"], describe(event["data"])]
        for event in events
        if event["name"] == "ChatPromptTemplate"
    ]


async def _prompt_value_in_log(make: Make, base: str) -> Any:
    remote = make("/chat")
    patches = [p async for p in remote.astream_log(TOPIC, include_names=["ChatPromptTemplate"])]
    total = patches[0]
    for patch in patches[1:]:
        total = total + patch
    entry = total.state["logs"]["ChatPromptTemplate"]
    return describe([entry["final_output"], entry["streamed_output"]])


def _runs(tracer: RunTree) -> list[Any]:
    """Every traced run: depth (its parent is the run above it one level up),
    name, type, inputs, outputs, and whether it failed."""
    rows: list[Any] = []

    def walk(run: Run, depth: int) -> None:
        rows.append([depth, run.name, run.run_type, run.inputs, run.outputs, bool(run.error)])
        for child in sorted(run.child_runs, key=lambda r: r.dotted_order or ""):
            walk(child, depth + 1)

    for root in tracer.roots:
        walk(root, 0)
    return describe(rows)


TRACED_CALLS: dict[str, Callable[[Any, dict[str, Any]], Awaitable[Any]]] = {
    "invoke": lambda r, c: in_thread(lambda: r.invoke("hey", c)),
    "ainvoke": lambda r, c: r.ainvoke("hey", c),
    "batch": lambda r, c: in_thread(lambda: r.batch(["hey", "you"], c)),
    "abatch": lambda r, c: r.abatch(["hey"], c),
    "stream": lambda r, c: in_thread(lambda: list(r.stream("hey", c))),
    "astream": lambda r, c: chunks(r.astream("hey", c)),
    "astream_log": lambda r, c: chunks(r.astream_log("hey", c)),
    "astream_events": lambda r, c: chunks(r.astream_events("hey", c, version="v2")),
}


def _traced(method: str) -> Scenario:
    async def scenario(make: Make, base: str) -> Any:
        tracer = RunTree()
        await TRACED_CALLS[method](make("/callbacks"), {"callbacks": [tracer]})
        return _runs(tracer)

    return scenario


# --- 12: timeouts ---------------------------------------------------------------------


@contextlib.contextmanager
def unanswered_port() -> Iterator[int]:
    """A port whose accept queue is full: the kernel drops new connection attempts,
    so connecting times out (a real ConnectTimeout, on loopback)."""
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(socket.socket())
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        for _ in range(4):
            filler = stack.enter_context(socket.socket())
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
        yield port


async def _connect_timeout(make: Make, base: str) -> Any:
    with unanswered_port() as port:
        remote = make("/add_one", timeout=SHORT)
        given = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/add_one", timeout=SHORT)
        async with given:
            remote.async_client = given
            return await outcome(lambda: remote.ainvoke(1))


async def _pool_timeout(make: Make, base: str) -> Any:
    """The only pooled connection is busy with a stream: the next call waits for it."""
    limits = httpx.Limits(max_connections=1)
    timeout = httpx.Timeout(TIMEOUT, pool=SHORT)
    async with httpx.AsyncClient(base_url=f"{base}/add_one", limits=limits, timeout=timeout) as c:
        remote = make("/add_one")
        remote.async_client = c
        busy = c.stream("POST", f"{base}/slow_midway/stream", json={"input": SLOW})
        async with busy:
            return await outcome(lambda: remote.ainvoke(1))


async def _error_only(streamed: Awaitable[dict[str, Any]]) -> Any:
    """Whether the first chunk beat the timeout depends on the machine's load; the
    error raised after it does not."""
    return {key: value for key, value in (await streamed).items() if key != "chunks"}


TIMEOUT_CALLS: dict[str, Scenario] = {
    "invoke": lambda m, b: outcome(
        lambda: in_thread(lambda: m("/slow", timeout=SHORT).invoke(SLOW))
    ),
    "ainvoke": lambda m, b: outcome(lambda: m("/slow", timeout=SHORT).ainvoke(SLOW)),
    "stream": lambda m, b: _error_only(
        in_thread(lambda: sync_chunks(m("/slow_midway", timeout=SHORT).stream(SLOW)))
    ),
    "astream": lambda m, b: _error_only(chunks(m("/slow_midway", timeout=SHORT).astream(SLOW))),
    "connect": _connect_timeout,
    "pool": _pool_timeout,
}


# --- 13: extra keyword arguments -----------------------------------------------------


def _with_kwargs(method: str) -> Scenario:
    """The call's outcome and what a tracer saw (whether a run was started)."""

    async def scenario(make: Make, base: str) -> Any:
        tracer = RunTree()
        config = {"callbacks": [tracer]}
        remote = make("/add_one")
        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "invoke": lambda: outcome(lambda: in_thread(lambda: remote.invoke(1, config, foo=1))),
            "ainvoke": lambda: outcome(lambda: remote.ainvoke(1, config, foo=1)),
            "batch": lambda: outcome(lambda: in_thread(lambda: remote.batch([1], config, foo=1))),
            "abatch": lambda: outcome(lambda: remote.abatch([1], config, foo=1)),
            "stream": lambda: in_thread(lambda: sync_chunks(remote.stream(1, config, foo=1))),
            "astream": lambda: chunks(remote.astream(1, config, foo=1)),
            "astream_log": lambda: chunks(remote.astream_log(1, config, foo=1)),
            "astream_events": lambda: chunks(remote.astream_events(1, config, version="v2", foo=1)),
        }
        answer = await calls[method]()
        if "chunks" in answer and method in ("astream_log", "astream_events"):
            answer["chunks"] = len(answer["chunks"])  # their contents are checked elsewhere
        return {"answer": answer, "runs": [row[:3] for row in _runs(tracer)]}

    return scenario


def _scenarios() -> dict[str, Scenario]:
    scenarios: dict[str, Scenario] = {
        "9.url": _urls,
        "9.assigned_sync_client": _assigned_sync_client,
        "9.assigned_async_client": _assigned_async_client,
        "9.assigned_client_base_url": _assigned_client_base_url_is_used,
        "11.prompt_value_in_astream_events": _prompt_value_in_events,
        "11.prompt_value_in_astream_log": _prompt_value_in_log,
    }
    for name in PROMPT_CALLS:
        scenarios[f"10.prompt_then_remote_model.{name}"] = _piped(name)
    for method in TRACED_CALLS:
        scenarios[f"11.callbacks.{method}"] = _traced(method)
    for name, timeout_call in TIMEOUT_CALLS.items():
        scenarios[f"12.timeout.{name}"] = timeout_call
    for method in TRACED_CALLS:
        scenarios[f"13.kwargs.{method}"] = _with_kwargs(method)
    return scenarios


SCENARIOS = _scenarios()


async def run_one(scenario: Scenario, factory: Make, base_url: str) -> Any:
    """One scenario with fresh RemoteRunnables, all closed afterwards."""
    made: list[Any] = []

    def make(path: str, **options: Any) -> Any:
        remote = factory(base_url + path, **{"timeout": TIMEOUT, **options})
        made.append(remote)
        return remote

    try:
        return await asyncio.wait_for(scenario(make, base_url), 4 * TIMEOUT)
    finally:
        for remote in made:
            await close(remote)


async def run_all(factory: Make, base_url: str) -> dict[str, Any]:
    return {
        name: await run_one(scenario, factory, base_url) for name, scenario in SCENARIOS.items()
    }


def main() -> None:
    from langserve import RemoteRunnable

    print(json.dumps(asyncio.run(run_all(RemoteRunnable, sys.argv[1])), sort_keys=True))


if __name__ == "__main__":
    main()

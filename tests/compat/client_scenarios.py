"""The same calls, made by either Python client, reduced to comparable JSON.

Importable from both virtualenvs (only langchain-core, httpx and the stdlib), so the
official `langserve.RemoteRunnable` (run in .venv-langserve) and
`langserve_like.RemoteRunnable` answer exactly the same scenarios:

    .venv-langserve/bin/python -m tests.compat.client_scenarios http://127.0.0.1:8000

prints `{scenario: result}` for the official client. Results keep class names
(`{"__class__": "AIMessage", ...}`), so a test can compare the *types* both clients
decode, and mask run ids and timestamps, which are fresh per request.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from langchain_core.messages import HumanMessage
from langchain_core.prompt_values import ChatPromptValue
from langchain_core.runnables import Runnable, RunnableGenerator, RunnableLambda, RunnableParallel
from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.schemas import Run
from pydantic import BaseModel

from tests.compat.zoo import chat_model, routes

# {"configurable": {"template": "Yo {name}"}} as LZString, the playground's share link.
CONFIG_HASH = "N4Igxg9gdgZglgcwK4CcCGAjANgUxALgAJQAXHAWwAcs0yDCQBNCYqNcnAXxE86A"
TIMEOUT = 30.0

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")


def _echo_upper(text: str) -> str:
    return text.upper()


def _fail(x: Any) -> Any:
    raise ValueError("secret detail that must not reach the client")


async def sleep(seconds: float) -> float:
    """Answers after `seconds`: longer than a client's timeout, to trip it."""
    await asyncio.sleep(seconds)
    return seconds


async def _sleep_midway(inputs: AsyncIterator[float]) -> AsyncIterator[str]:
    async for seconds in inputs:
        yield "started"
        await sleep(seconds)
        yield "done"


def extra_routes() -> dict[str, tuple[Runnable[Any, Any], dict[str, Any]]]:
    """Routes beyond the shared zoo: path -> (runnable, add_routes options)."""
    with_steps = RunnableLambda(_echo_upper) | RunnableLambda(lambda s: f"<{s}>")
    return {
        # No model inside: LangServe 0.3.3 answers 500 for callback events of a
        # model under langchain-core 1.x.
        "/callbacks": (with_steps, {"include_callback_events": True}),
        "/fail_invoke": (RunnableLambda(_fail), {}),
        # A chat model served alone: the target of `prompt | RemoteRunnable(url)`.
        "/model": (chat_model(), {}),
        "/slow": (RunnableLambda(sleep), {}),
        "/slow_midway": (RunnableGenerator(_sleep_midway), {}),
    }


def all_routes() -> dict[str, tuple[Runnable[Any, Any], dict[str, Any]]]:
    return {**{path: (r, {}) for path, r in routes().items()}, **extra_routes()}


# --- reducing results to JSON ---------------------------------------------------


_INTERNAL = frozenset({"__useragent", "__langserve_version", "__langserve_endpoint"})


def _mask(text: str) -> str:
    return _TIME.sub("<time>", _UUID.sub("<uuid>", text))


def describe(value: Any) -> Any:
    """JSON that keeps every non-builtin class name and masks ids and times."""
    if isinstance(value, BaseException):
        response = getattr(value, "response", None)
        return {
            "__error__": True,
            "is_http_status_error": isinstance(value, httpx.HTTPStatusError),
            "status_code": getattr(response, "status_code", None),
        }
    if isinstance(value, ChatPromptValue):
        # Its messages keep their classes (model_dump would flatten them).
        return {"__class__": type(value).__name__, "messages": describe(value.messages)}
    if isinstance(value, BaseModel):
        fields = value.model_dump()
        return {"__class__": type(value).__name__, **describe(fields)}
    if hasattr(value, "ops") and isinstance(value.ops, list):  # RunLogPatch / RunLog
        out = {"__class__": type(value).__name__, "ops": describe(value.ops)}
        if hasattr(value, "state"):
            out["state"] = describe(value.state)
        return out
    if isinstance(value, dict):
        # Internal `__*` metadata is not part of the contract (LangServe leaks it).
        out = {str(k): describe(v) for k, v in value.items() if str(k) not in _INTERNAL}
        if type(value) is not dict:
            out["__class__"] = type(value).__name__
        return out
    if isinstance(value, (list, tuple)):
        return [describe(item) for item in value]
    if isinstance(value, str):
        return _mask(value)
    if isinstance(value, uuid.UUID):
        return "<uuid>"
    return value


class RunTree(BaseTracer):
    """Collects finished root runs; `tree()` is (depth, name, run_type) per run."""

    def __init__(self) -> None:
        super().__init__()
        self.roots: list[Run] = []

    def _persist_run(self, run: Run) -> None:
        self.roots.append(run)

    def tree(self) -> list[list[Any]]:
        rows: list[list[Any]] = []

        def walk(run: Run, depth: int) -> None:
            rows.append([depth, run.name, run.run_type, run.error is not None])
            for child in sorted(run.child_runs, key=lambda r: r.dotted_order or ""):
                walk(child, depth + 1)

        for root in self.roots:
            walk(root, 0)
        return rows


# --- scenarios ------------------------------------------------------------------

Make = Callable[[str], Any]  # route path -> a RemoteRunnable for base_url + path


async def _collect_async(iterator: Any) -> list[Any]:
    return [item async for item in iterator]


async def _partial_then_error(iterator: Any) -> dict[str, Any]:
    seen: list[Any] = []
    try:
        async for item in iterator:
            seen.append(item)
    except Exception as exc:
        return {"chunks": describe(seen), "error": describe(exc)}
    return {"chunks": describe(seen), "error": None}


async def _sorted_async(iterator: Any) -> list[Any]:
    return _sorted(await _collect_async(iterator))


def _sorted(items: list[Any]) -> list[Any]:
    return sorted(items, key=lambda item: json.dumps(describe(item), sort_keys=True))


async def _sum_log(remote: Any, value: Any) -> dict[str, Any]:
    patches = await _collect_async(remote.astream_log(value))
    total = patches[0]
    for patch in patches[1:]:
        total = total + patch
    state = total.state
    return {
        "classes": sorted({type(p).__name__ for p in patches}),
        "total_class": type(total).__name__,
        "final_output": describe(state["final_output"]),
        "streamed_output": describe(state["streamed_output"]),
        "logs": sorted(state["logs"]),
    }


async def _events(remote: Any, value: Any) -> list[Any]:
    events = await _collect_async(remote.astream_events(value, version="v2"))
    return [[e["event"], e["name"], describe(e["data"])] for e in events]


def _trace_invoke(remote: Any) -> list[list[Any]]:
    tracer = RunTree()
    remote.invoke("hey", {"callbacks": [tracer]})
    return tracer.tree()


async def _trace_abatch(remote: Any) -> list[list[Any]]:
    tracer = RunTree()
    await remote.abatch(["a", "b"], {"callbacks": [tracer]})
    return tracer.tree()


def _compose(remote: Any) -> Any:
    chain = RunnableLambda(lambda x: x * 10) | remote | RunnableLambda(lambda x: f"got {x}")
    return chain.invoke(1), chain.batch([1, 2]), list(chain.stream(3))


def _parallel(remote: Any) -> Any:
    return RunnableParallel(a=remote, b=remote).invoke(1)


def _sync_raise(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except Exception as exc:
        return describe(exc)


async def _async_raise(call: Callable[[], Awaitable[Any]]) -> Any:
    try:
        return await call()
    except Exception as exc:
        return describe(exc)


Scenario = Callable[[Make], Awaitable[Any]]


def _scenarios() -> dict[str, Scenario]:
    topic = {"topic": "cats"}
    messages = [HumanMessage(content="hi"), HumanMessage(content="there")]

    async def sync(make: Make, path: str, call: Callable[[Any], Any]) -> Any:
        return describe(call(make(path)))

    async def run(make: Make, path: str, call: Callable[[Any], Awaitable[Any]]) -> Any:
        return describe(await call(make(path)))

    return {
        "invoke": lambda m: sync(m, "/add_one", lambda r: r.invoke(1)),
        "ainvoke": lambda m: run(m, "/add_one", lambda r: r.ainvoke(1)),
        "batch": lambda m: sync(m, "/add_one", lambda r: r.batch([1, 2, 3])),
        "abatch": lambda m: run(m, "/add_one", lambda r: r.abatch([1, 2, 3])),
        "stream": lambda m: sync(m, "/add_one", lambda r: list(r.stream(1))),
        "astream": lambda m: run(m, "/add_one", lambda r: _collect_async(r.astream(1))),
        "invoke_chat": lambda m: sync(m, "/chat", lambda r: r.invoke(topic)),
        "ainvoke_chat": lambda m: run(m, "/chat", lambda r: r.ainvoke(topic)),
        "stream_chat": lambda m: sync(m, "/chat", lambda r: list(r.stream(topic))),
        "astream_chat_str": lambda m: run(
            m, "/chat_str", lambda r: _collect_async(r.astream(topic))
        ),
        "batch_chat_str": lambda m: sync(m, "/chat_str", lambda r: r.batch([topic, topic])),
        "invoke_docs": lambda m: sync(m, "/docs", lambda r: r.invoke("llamas")),
        "stream_parallel": lambda m: sync(m, "/parallel", lambda r: _sorted(list(r.stream(5)))),
        "astream_parallel": lambda m: run(m, "/parallel", lambda r: _sorted_async(r.astream(5))),
        "invoke_parallel": lambda m: sync(m, "/parallel", lambda r: r.invoke(5)),
        "invoke_messages": lambda m: sync(m, "/messages", lambda r: r.invoke(messages)),
        "invoke_configurable": lambda m: sync(
            m,
            "/configurable",
            lambda r: r.with_config(configurable={"template": "Hi {name}?"}).invoke(
                {"name": "Ann"}
            ),
        ),
        "invoke_config_hash_url": lambda m: sync(
            m, f"/configurable/c/{CONFIG_HASH}", lambda r: r.invoke({"name": "Ann"})
        ),
        "astream_log": lambda m: run(m, "/chat_str", lambda r: _sum_log(r, topic)),
        "astream_log_add_one": lambda m: run(m, "/add_one", lambda r: _sum_log(r, 1)),
        "astream_events": lambda m: run(m, "/chat", lambda r: _events(r, topic)),
        "astream_events_docs": lambda m: run(m, "/docs", lambda r: _events(r, "x")),
        "lcel_compose": lambda m: sync(m, "/add_one", _compose),
        "lcel_parallel": lambda m: sync(m, "/add_one", _parallel),
        "error_invoke_500": lambda m: sync(
            m, "/fail_invoke", lambda r: _sync_raise(lambda: r.invoke(1))
        ),
        "error_ainvoke_422": lambda m: run(
            m, "/add_one", lambda r: _async_raise(lambda: r.ainvoke("not a number"))
        ),
        "error_stream_422": lambda m: sync(
            m, "/add_one", lambda r: _sync_raise(lambda: list(r.stream("x")))
        ),
        "error_astream_midway": lambda m: run(
            m, "/fail", lambda r: _partial_then_error(r.astream("hi"))
        ),
        "error_404": lambda m: sync(m, "/nowhere", lambda r: _sync_raise(lambda: r.invoke(1))),
        "callbacks_invoke": lambda m: sync(m, "/callbacks", _trace_invoke),
        "callbacks_abatch": lambda m: run(m, "/callbacks", _trace_abatch),
    }


SCENARIOS = _scenarios()


async def close(remote: Any) -> None:
    """Close both clients of either RemoteRunnable."""
    if hasattr(remote, "aclose"):
        await remote.aclose()
        return
    remote.sync_client.close()
    await remote.async_client.aclose()


async def run_one(scenario: Scenario, factory: Callable[[str], Any], base_url: str) -> Any:
    """One scenario with fresh clients (a LangServe 500 kills its connection)."""
    made: list[Any] = []

    def make(path: str) -> Any:
        remote = factory(base_url + path)
        made.append(remote)
        return remote

    try:
        return await asyncio.wait_for(scenario(make), TIMEOUT)
    except Exception as exc:  # recorded: the comparison shows it
        return {"__unexpected__": f"{type(exc).__name__}: {exc}"}
    finally:
        for remote in made:
            await close(remote)


async def run_all(factory: Callable[[str], Any], base_url: str) -> dict[str, Any]:
    """Every scenario, by name."""
    results: dict[str, Any] = {}
    for name, scenario in SCENARIOS.items():
        results[name] = await run_one(scenario, factory, base_url)
    return results


def main() -> None:
    from langserve import RemoteRunnable

    base_url = sys.argv[1]
    results = asyncio.run(run_all(lambda url: RemoteRunnable(url, timeout=TIMEOUT), base_url))
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()

"""Drive the official `langserve.RemoteRunnable` against a server; print JSON.

Run with .venv-langserve/bin/python (the real LangServe 0.3.3 client):

    python tests/compat/python_client_probe.py http://127.0.0.1:8000

Every call's result is reduced to JSON that keeps Python class names
(`{"__class__": "AIMessage", ...}`), so the test can check that the client
decoded what the server sent into the same types. Failures are recorded, not
raised: the test asserts on them too.
"""

import asyncio
import datetime
import json
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
from langchain_core.tracers.log_stream import RunLog, RunLogPatch
from langserve import RemoteRunnable
from pydantic import BaseModel

TIMEOUT = 30.0


def describe(obj: Any) -> Any:
    """JSON-friendly view of a decoded value that keeps non-builtin class names."""
    if isinstance(obj, RunLogPatch):  # RunLog too: it is a subclass
        view = {"__class__": type(obj).__name__, "ops": describe(obj.ops)}
        if isinstance(obj, RunLog):
            view["state"] = describe(obj.state)
        return view
    if isinstance(obj, BaseModel):
        fields = {name: describe(getattr(obj, name)) for name in type(obj).model_fields}
        return {"__class__": type(obj).__name__, **fields}
    if isinstance(obj, dict):
        view = {str(key): describe(value) for key, value in obj.items()}
        if type(obj) is not dict:
            view["__class__"] = type(obj).__name__
        return view
    if isinstance(obj, (list, tuple)):
        return [describe(item) for item in obj]
    if isinstance(obj, (uuid.UUID, datetime.datetime)):
        return str(obj)
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return {"__class__": type(obj).__name__, "repr": repr(obj)}


def describe_error(exc: BaseException) -> dict[str, Any]:
    view: dict[str, Any] = {"class": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, httpx.HTTPStatusError):
        view["status_code"] = exc.response.status_code
    return view


def remote(base: str, path: str) -> RemoteRunnable:
    # A fresh client per call: after a 500 LangServe kills the keep-alive
    # connection and the next call on the same client would fail spuriously.
    return RemoteRunnable(base + path, timeout=TIMEOUT)


def sync_call(fn: Callable[[], Any]) -> dict[str, Any]:
    try:
        return {"result": describe(fn())}
    except Exception as exc:  # recorded for the test to assert on
        return {"error": describe_error(exc)}


async def async_call(fn: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    try:
        return {"result": describe(await fn())}
    except Exception as exc:
        return {"error": describe_error(exc)}


def sync_stream(it: Callable[[], Iterator[Any]]) -> dict[str, Any]:
    chunks: list[Any] = []
    try:
        for chunk in it():
            chunks.append(describe(chunk))
    except Exception as exc:
        return {"chunks": chunks, "error": describe_error(exc)}
    return {"chunks": chunks}


async def async_stream(it: Callable[[], AsyncIterator[Any]]) -> dict[str, Any]:
    chunks: list[Any] = []
    try:
        async for chunk in it():
            chunks.append(chunk)
    except Exception as exc:
        return {"chunks": [describe(c) for c in chunks], "error": describe_error(exc)}
    view: dict[str, Any] = {"chunks": [describe(c) for c in chunks]}
    if chunks and isinstance(chunks[0], RunLogPatch):
        total = chunks[0]
        for patch in chunks[1:]:
            total = total + patch
        view["total"] = describe(total)
    return view


async def probe(base: str) -> dict[str, Any]:
    def r(path: str) -> RemoteRunnable:
        return remote(base, path)

    topic = {"topic": "cats"}
    out: dict[str, Any] = {}
    out["add_one.invoke"] = sync_call(lambda: r("/add_one").invoke(1))
    out["add_one.ainvoke"] = await async_call(lambda: r("/add_one").ainvoke(2))
    out["add_one.batch"] = sync_call(lambda: r("/add_one").batch([1, 2]))
    out["add_one.abatch"] = await async_call(lambda: r("/add_one").abatch([3, 4]))
    out["add_one.stream"] = sync_stream(lambda: r("/add_one").stream(1))
    out["add_one.astream"] = await async_stream(lambda: r("/add_one").astream(1))
    out["add_one.astream_log"] = await async_stream(lambda: r("/add_one").astream_log(1))
    out["add_one.astream_events"] = await async_stream(
        lambda: r("/add_one").astream_events(1, version="v2")
    )
    out["add_one.invoke_invalid"] = sync_call(lambda: r("/add_one").invoke("x"))

    out["chat.invoke"] = sync_call(lambda: r("/chat").invoke(topic))
    out["chat.ainvoke"] = await async_call(lambda: r("/chat").ainvoke(topic))
    out["chat.batch"] = sync_call(lambda: r("/chat").batch([topic, {"topic": "dogs"}]))
    out["chat.stream"] = sync_stream(lambda: r("/chat").stream(topic))
    out["chat.astream"] = await async_stream(lambda: r("/chat").astream(topic))
    out["chat.astream_events"] = await async_stream(
        lambda: r("/chat").astream_events(topic, version="v2")
    )

    out["chat_str.invoke"] = sync_call(lambda: r("/chat_str").invoke(topic))
    out["chat_str.abatch"] = await async_call(lambda: r("/chat_str").abatch([topic, topic]))
    out["chat_str.astream"] = await async_stream(lambda: r("/chat_str").astream(topic))
    out["chat_str.astream_log"] = await async_stream(
        lambda: r("/chat_str").astream_log(topic, include_names=["GenericFakeChatModel"])
    )

    out["docs.invoke"] = sync_call(lambda: r("/docs").invoke("llamas"))
    out["docs.astream"] = await async_stream(lambda: r("/docs").astream("llamas"))

    out["parallel.invoke"] = sync_call(lambda: r("/parallel").invoke(5))
    out["parallel.astream"] = await async_stream(lambda: r("/parallel").astream(5))

    yo = {"configurable": {"template": "Yo {who}"}}
    out["configurable.invoke"] = sync_call(lambda: r("/configurable").invoke({"name": "Ann"}))
    out["configurable.invoke_configured"] = sync_call(
        lambda: r("/configurable").invoke({"who": "Bo"}, config=yo)  # type: ignore[arg-type]
    )
    out["configurable.with_config"] = await async_call(
        lambda: r("/configurable").with_config(yo).ainvoke({"who": "Cy"})  # type: ignore[arg-type]
    )

    from langchain_core.messages import HumanMessage, SystemMessage

    history = [SystemMessage(content="be nice"), HumanMessage(content="hi")]
    out["messages.invoke"] = sync_call(lambda: r("/messages").invoke(history))

    out["fail.invoke"] = sync_call(lambda: r("/fail").invoke("x"))
    out["fail.ainvoke"] = await async_call(lambda: r("/fail").ainvoke("x"))
    out["fail.stream"] = sync_stream(lambda: r("/fail").stream("x"))
    out["fail.astream"] = await async_stream(lambda: r("/fail").astream("x"))
    out["fail.astream_events"] = await async_stream(
        lambda: r("/fail").astream_events("x", version="v2")
    )

    # LangServe drops the keep-alive connection after a 500, so
    # the next call on the same client fails with a transport error; ours must not.
    failing = r("/fail")
    sync_call(lambda: failing.invoke("x"))
    out["fail.stream_after_500"] = sync_stream(lambda: failing.stream("x"))

    out["router.invoke"] = sync_call(lambda: r("/router/inner").invoke("hey"))
    out["router.astream_events"] = await async_stream(
        lambda: r("/router/inner").astream_events("hey", version="v2")
    )
    return out


def main() -> None:
    base = sys.argv[1].rstrip("/")
    print(json.dumps(asyncio.run(probe(base)), indent=1, sort_keys=True))


if __name__ == "__main__":
    main()

"""JSON answers, and the one place where errors become HTTP responses.

`RequestError` is the client's fault (4xx with a detail naming the field);
`RunnableFailed` is the runnable's (5xx or the status an `error_mapper` chose).
Every `APIHandler` endpoint is wrapped in `translated`, so nothing else turns an
exception into a response.
"""

from __future__ import annotations

import asyncio
import functools
import types
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, TypeVar

import orjson
from langchain_core.prompt_values import ChatPromptValue, ChatPromptValueConcrete
from starlette.requests import Request
from starlette.responses import Response

from langserve_like.exceptions import ClientDisconnected, RequestError, RunnableFailed
from langserve_like.serialization import Serializer, WellKnownLCSerializer
from langserve_like.server import disconnect
from langserve_like.server.failures import shutting_down
from langserve_like.wire import INTERNAL_SERVER_ERROR, RUN_ID_HEADER

__all__ = [
    "cancel_on_disconnect",
    "cancelled",
    "error_response",
    "invoke_output",
    "JSONBody",
    "json_response",
    "run_response",
    "translate",
    "TRANSLATED",
    "translated",
    "untranslated",
]

_JSON = "application/json"
_T = TypeVar("_T")
_Method = TypeVar("_Method", bound=Callable[..., Coroutine[Any, Any, Response]])


class JSONBody(Response):
    """Already-encoded JSON; the same two headers Starlette writes, built directly.

    No background task, ever: `RunnableRoute` sends it itself, as `__call__` would."""

    media_type = _JSON
    # Class attributes rather than two more entries in every instance's dict.
    status_code = 200
    background = None

    def __init__(self, content: bytes, status_code: int = 200) -> None:
        if status_code != 200:
            self.status_code = status_code
        self.body = content
        self.raw_headers = [
            (b"content-length", str(len(content)).encode()),
            (b"content-type", b"application/json"),
        ]


def json_response(
    content: bytes, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    if headers:
        return Response(content, status_code=status_code, media_type=_JSON, headers=headers)
    return JSONBody(content, status_code)


def run_response(
    serializer: Serializer, output: Any, metadata: dict[str, Any], events: Any
) -> Response:
    """The invoke/batch answer. Only the output (and the callback events, which
    carry outputs too) goes through the serializer, as in LangServe, so a custom
    serializer sees the runnable's values rather than the whole envelope."""
    if type(serializer) is WellKnownLCSerializer:
        # The default one is orjson with a hook that only LangChain objects reach,
        # never the metadata: the envelope in one call, to the same bytes.
        envelope = {"output": output, "metadata": metadata}
        if events is not None:
            envelope["callback_events"] = events
        try:
            return JSONBody(serializer.dumps_first(envelope))  # a Python call less
        except orjson.JSONEncodeError:
            return JSONBody(serializer.dumps(envelope))
    data = serializer.dumps(output)
    body = b'{"output":' + (data if type(data) is bytes else _as_bytes(data))
    body += b',"metadata":' + orjson.dumps(metadata)
    if events is not None:
        body += b',"callback_events":' + _as_bytes(serializer.dumps(events))
    return JSONBody(body + b"}")


def _as_bytes(data: bytes | str) -> bytes:
    # A LangServe-era serializer may return str from `dumps`.
    return data.encode() if isinstance(data, str) else data


def invoke_output(output: Any) -> Any:
    """A ChatPromptValue as LangServe's invoke and batch answered it: tagged
    `ChatPromptValueConcrete`, the class its clients decode (streams send it untagged)."""
    if type(output) is ChatPromptValue:
        return ChatPromptValueConcrete.model_construct(messages=output.messages)
    return output


def error_response(exc: RequestError | RunnableFailed) -> Response:
    """The single place where errors become HTTP responses."""
    if isinstance(exc, RequestError):
        try:
            content = orjson.dumps({"detail": exc.detail})
        except orjson.JSONEncodeError:
            # The echoed `input` of an error item is nested deeper than JSON
            # encoders go: the item without it still names the field.
            content = orjson.dumps({"detail": _without_inputs(exc.detail)})
        return json_response(content, exc.status_code)
    if exc.status_code == 500 and exc.message == INTERNAL_SERVER_ERROR and not exc.headers:
        return _plain_500(exc.run_id)
    body: dict[str, Any] = {"detail": exc.message}
    if exc.run_id:
        body["run_id"] = exc.run_id
    return json_response(orjson.dumps(body), exc.status_code, exc.headers)


def _plain_500(run_id: str | None) -> Response:
    # A failure that says nothing is answered as LangServe's server answered it
    # (Starlette's plain-text 500), which callers and both official clients show
    # as it is; the run id, for finding the traceback in the log, rides in a header.
    headers = {RUN_ID_HEADER: run_id} if run_id else None
    return Response(
        INTERNAL_SERVER_ERROR, status_code=500, media_type="text/plain", headers=headers
    )


def _without_inputs(detail: Any) -> Any:
    return [
        {k: v for k, v in item.items() if k != "input"} if isinstance(item, dict) else item
        for item in detail
    ]


def translated(method: _Method) -> _Method:
    """Wraps an `APIHandler` endpoint: the request counts as in flight in its app's
    state, and errors become responses. (The streams also make the state the
    request's, `state.use`, for the response sent after the endpoint returns.)"""

    @functools.wraps(method)
    async def wrapper(handler: Any, *args: Any, **kwargs: Any) -> Response:
        # The count by hand rather than `with app:`: two method calls less per request.
        app = handler.state
        app.in_flight += 1
        try:
            return await method(handler, *args, **kwargs)
        except TRANSLATED as exc:
            return translate(exc)
        finally:
            app.in_flight -= 1

    wrapper.translates = method  # type: ignore[attr-defined]  # for `untranslated`
    return wrapper  # type: ignore[return-value]


#: What an endpoint may raise for `translate` (anything else is a bug: a 500).
TRANSLATED = (RequestError, RunnableFailed, ClientDisconnected)


def translate(exc: RequestError | RunnableFailed | ClientDisconnected) -> Response:
    """The response of an exception in `TRANSLATED`, for `translated` and for a route
    that calls an endpoint without its wrapper (`untranslated`)."""
    if isinstance(exc, ClientDisconnected):
        return Response(status_code=499)
    return error_response(exc)


def untranslated(
    method: Callable[..., Awaitable[Response]],
) -> Callable[..., Awaitable[Response]] | None:
    """A bound `translated` endpoint without its wrapper (None for any other): the
    caller counts the request in flight and calls `translate` itself, a coroutine
    less per request."""
    inner = getattr(method, "translates", None)
    return None if inner is None else types.MethodType(inner, getattr(method, "__self__"))  # noqa: B009


async def cancel_on_disconnect(request: Request, work: Awaitable[_T]) -> _T:
    """Await `work`, cancelling it if the client disconnects first.

    LangServe let an abandoned /invoke run to the end, spending tokens nobody reads.
    The work's own exception is re-raised as it is (not inside an ExceptionGroup).
    invoke and batch inline this (a coroutine less per request) with `cancelled`.
    """
    sweeper = disconnect.sweeper()
    ticket = sweeper.watch(request.receive)
    try:
        return await work
    except asyncio.CancelledError:
        raise cancelled(sweeper.disconnected(ticket)) from None
    finally:
        sweeper.unwatch(ticket)


def cancelled(disconnected: bool) -> Exception:
    """What to raise instead of the CancelledError of work awaited under a disconnect
    watch, given whether its client left (`Sweeper.disconnected`)."""
    if disconnected:
        return ClientDisconnected()
    # Cancelled by the server (uvicorn's graceful-shutdown timeout): answer 503
    # rather than let the server log a crash and send 500.
    task = asyncio.current_task()
    if task is not None and hasattr(task, "uncancel"):
        task.uncancel()
    return shutting_down()

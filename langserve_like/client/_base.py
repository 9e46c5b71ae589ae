"""The I/O-free half of `RemoteRunnable`: request bodies and response decoding.

`client.py` only moves bytes (sync and async twins, like httpx's `Client` and
`AsyncClient`); everything that decides *what* is sent and *how* an answer is read
lives here as plain functions, so both twins behave the same by construction.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from httpx_sse import ServerSentEvent
from langchain_core.prompt_values import ChatPromptValue
from langchain_core.runnables import RunnableConfig

from langserve_like.exceptions import (
    ProtocolError,
    RemoteConnectTimeout,
    RemoteError,
    RemotePoolTimeout,
    RemoteReadTimeout,
    RemoteRequestError,
    RemoteServerError,
    RemoteTimeout,
    RemoteWriteTimeout,
    StreamError,
)
from langserve_like.serialization import Serializer, default_encoder
from langserve_like.wire import CALLBACK, DATA, END, ERROR, RUN_ID_HEADER, STREAM_FILTERS

__all__ = [
    "DEFAULT_TIMEOUT",
    "SSE_HEADERS",
    "STREAM_FILTERS",
    "StreamItem",
    "batch_payload",
    "check_stream_response",
    "decode_batch",
    "decode_invoke",
    "decode_sse",
    "encode_input",
    "endpoint_url",
    "error_from_response",
    "invoke_payload",
    "prepare_config",
    "reject_kwargs",
    "route_url",
    "stream_payload",
    "translate_timeouts",
]

DEFAULT_TIMEOUT = httpx.Timeout(None, connect=10.0)
"""10 s to connect; no limit on reads, as LangServe's client: a long `invoke` of an
agent may send nothing for minutes, and code written for LangServe relies on that.
The connect limit only turns a host that never answers into an error sooner."""

SSE_HEADERS = {"Accept": "text/event-stream", "Cache-Control": "no-store"}

# Request headers that stay readable in the `request` of a raised error; all others
# (Authorization, cookies, API keys) are redacted, as errors end up in logs.
_SAFE_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "cache-control",
        "connection",
        "content-length",
        "content-type",
        "host",
        "user-agent",
    }
)


def route_url(url: str) -> str:
    """`http://h/chain` -> `http://h/chain/`: LangServe's client shows and joins
    its URL with a trailing slash, and code reading `.url` may rely on it."""
    return url if url.endswith("/") else f"{url}/"


def endpoint_url(url: str, endpoint: str) -> str:
    """`http://h/chain` or `http://h/chain/c/<hash>/` + `invoke`."""
    return f"{route_url(url)}{endpoint}"


def reject_kwargs(kwargs: Mapping[str, Any], *, batch: bool = False) -> None:
    """invoke and batch take no extra keyword arguments, as with LangServe's client
    (its streams send them to the server, so ours do too)."""
    if kwargs:
        got = f" Got {dict(kwargs)}" if batch else ""
        raise NotImplementedError(f"kwargs not implemented yet.{got}")


# --- requests -----------------------------------------------------------------


def encode_input(obj: Any) -> Any:
    """The route serializer's encoding, but a `ChatPromptValue` (what a
    ChatPromptTemplate passes on, e.g. in `prompt | RemoteRunnable(model_url)`)
    goes untagged, `{"messages": [...]}`, as LangServe's client sends it: servers
    validate it against the model's input, where a `"type": "ChatPromptValue"`
    tag matches no class and makes the request a 422."""
    dumped = default_encoder(obj)
    if isinstance(obj, ChatPromptValue) and dumped.get("type") == "ChatPromptValue":
        del dumped["type"]
    return dumped


def _is_json(value: Any) -> bool:
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_json(item) for item in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


def _json_items(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if isinstance(k, str) and _is_json(v)}


def prepare_config(config: RunnableConfig | None) -> dict[str, Any]:
    """The part of a local config the server may use.

    Dropped: `callbacks` (replayed locally instead), `run_id` and `run_name` (they
    name the client's own run; the server names its run after the route), values
    that are not JSON (LangGraph channels, message histories put into
    `configurable` by local wrappers), and an empty `configurable`, which would
    otherwise reset the values of a `/c/<config_hash>` URL on LangServe servers.
    """
    prepared: dict[str, Any] = {}
    for key, value in (config or {}).items():
        if key in ("callbacks", "run_id", "run_name"):
            continue
        if key in ("configurable", "metadata") and isinstance(value, Mapping):
            value = _json_items(value)
            if key == "configurable" and not value:
                continue
        elif not _is_json(value):
            continue
        prepared[key] = value
    return prepared


def invoke_payload(
    serializer: Serializer,
    input: Any,
    config: RunnableConfig | None,
    kwargs: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "input": serializer.dumpd(input),
        "config": prepare_config(config),
        "kwargs": serializer.dumpd(dict(kwargs)),
    }


def batch_payload(
    serializer: Serializer,
    inputs: Sequence[Any],
    configs: Sequence[RunnableConfig],
    kwargs: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "inputs": serializer.dumpd(list(inputs)),
        "config": [prepare_config(config) for config in configs],
        "kwargs": serializer.dumpd(dict(kwargs)),
    }


def stream_payload(
    serializer: Serializer,
    input: Any,
    config: RunnableConfig | None,
    kwargs: Mapping[str, Any],
    *,
    callback_events: bool,
    filters: Mapping[str, Sequence[str] | None] | None = None,
    diff: bool | None = None,
) -> dict[str, Any]:
    """Body of /stream (no filters), /stream_log (`diff`) and /stream_events.

    `callback_events: true` asks a langserve_like server to interleave the
    server's callback events as `event: callback` frames; it is only sent when
    there are handlers to replay them into (LangServe servers ignore it).
    """
    payload = invoke_payload(serializer, input, config, kwargs)
    if diff is not None:
        payload["diff"] = diff
    if filters is not None:
        for name in STREAM_FILTERS:
            value = filters.get(name)
            payload[name] = list(value) if value is not None else None
    if callback_events:
        payload["callback_events"] = True
    return payload


# --- responses ----------------------------------------------------------------


def _redacted(request: httpx.Request) -> httpx.Request:
    headers = [
        (name, value if name.lower() in _SAFE_HEADERS else "[redacted]")
        for name, value in request.headers.items()
    ]
    return httpx.Request(request.method, request.url, headers=headers)


def _detail_and_run_id(response: httpx.Response) -> tuple[Any, str | None]:
    """LangServe-style bodies: `{"detail": ...}` JSON, or plain text for a 500 (whose
    run id, from a langserve_like server, is in a header)."""
    try:
        body = response.json()
    except ValueError:
        return response.text, response.headers.get(RUN_ID_HEADER)
    if isinstance(body, Mapping) and "detail" in body:
        run_id = body.get("run_id")
        return body["detail"], run_id if isinstance(run_id, str) else None
    return body, None


def error_from_response(response: httpx.Response) -> RemoteError:
    """The exception for a 4xx/5xx answer whose body has been read."""
    detail, run_id = _detail_and_run_id(response)
    shown = detail if isinstance(detail, str) else json.dumps(detail)
    kind = "Client error" if response.status_code < 500 else "Server error"
    request = _redacted(response.request)
    message = (
        f"{kind} '{response.status_code} {response.reason_phrase}' for url '{request.url}': {shown}"
    )
    cls = RemoteRequestError if response.status_code < 500 else RemoteServerError
    return cls(message, request=request, response=response, detail=detail, run_id=run_id)


def _json_body(response: httpx.Response) -> dict[str, Any]:
    if response.is_error:
        raise error_from_response(response)
    try:
        body = response.json()
    except ValueError:
        raise ProtocolError(
            f"expected a JSON object from {response.url}, got {response.text[:200]!r}"
        ) from None
    if not isinstance(body, dict) or "output" not in body:
        raise ProtocolError(f"expected a JSON object with an `output` key from {response.url}")
    return body


def _events(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ProtocolError(f"`callback_events` {where} is not a list")
    return value


def decode_invoke(serializer: Serializer, response: httpx.Response) -> tuple[Any, list[Any]]:
    """`(output, callback events)` of an /invoke answer."""
    body = _json_body(response)
    events = _events(body.get("callback_events"), "of /invoke")
    return serializer.loadd(body["output"]), serializer.loadd(events)


def decode_batch(
    serializer: Serializer, response: httpx.Response, size: int
) -> tuple[list[Any], list[list[Any]]]:
    """`(outputs, callback events per input)` of a /batch answer."""
    body = _json_body(response)
    outputs = body["output"]
    if not isinstance(outputs, list) or len(outputs) != size:
        raise ProtocolError(f"expected a list of {size} outputs from {response.url}")
    events = _events(body.get("callback_events"), "of /batch")
    per_input = [_events(item, "of a /batch input") for item in events]
    if not per_input:
        per_input = [[] for _ in outputs]
    elif len(per_input) != size:
        raise ProtocolError(f"expected {size} lists of callback events")
    return serializer.loadd(outputs), [serializer.loadd(item) for item in per_input]


def check_stream_response(response: httpx.Response) -> None:
    """Call once the body of an error answer has been read; 200s must be SSE."""
    if response.is_error:
        raise error_from_response(response)
    content_type = response.headers.get("content-type", "")
    if "text/event-stream" not in content_type:
        raise ProtocolError(f"expected text/event-stream from {response.url}, got {content_type!r}")


@dataclass(frozen=True)
class StreamItem:
    """What one SSE frame means to the client."""

    kind: Literal["data", "callback", "end", "skip"]
    value: Any = None


def _load(serializer: Serializer, sse: ServerSentEvent, url: httpx.URL) -> Any:
    try:
        return serializer.loads(sse.data)
    except ValueError:
        raise ProtocolError(
            f"`{sse.event}` event from {url} is not JSON: {sse.data[:200]!r}"
        ) from None


def _stream_error(sse: ServerSentEvent, request: httpx.Request) -> StreamError:
    try:
        data = json.loads(sse.data)
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    status = data.get("status_code")
    status = status if isinstance(status, int) and 400 <= status < 600 else 500
    message = data.get("message")
    message = message if isinstance(message, str) else sse.data
    run_id = data.get("run_id")
    request = _redacted(request)
    response = httpx.Response(status, request=request, text=sse.data)
    return StreamError(
        f"Server error event '{status}' in the stream from '{request.url}': {message}",
        request=request,
        response=response,
        detail=message,
        run_id=run_id if isinstance(run_id, str) else None,
    )


def decode_sse(serializer: Serializer, sse: ServerSentEvent, request: httpx.Request) -> StreamItem:
    """`data` and `callback` frames carry JSON; `error` raises `StreamError`.

    `metadata` (the run id) and unknown events are skipped, so a newer server can
    add events without breaking this client.
    """
    if sse.event == DATA:
        return StreamItem("data", _load(serializer, sse, request.url))
    if sse.event == CALLBACK:
        return StreamItem("callback", _load(serializer, sse, request.url))
    if sse.event == END:
        return StreamItem("end")
    if sse.event == ERROR:
        raise _stream_error(sse, request)
    return StreamItem("skip")


def stream_ended_early(url: httpx.URL) -> ProtocolError:
    return ProtocolError(f"the stream from {url} ended without an `end` event")


# Each httpx timeout class -> ours, which is also that httpx class, so an
# `except httpx.ReadTimeout:` written for LangServe's client still catches it.
_TIMEOUTS: Mapping[type[httpx.TimeoutException], type[RemoteTimeout]] = {
    httpx.ConnectTimeout: RemoteConnectTimeout,
    httpx.ReadTimeout: RemoteReadTimeout,
    httpx.WriteTimeout: RemoteWriteTimeout,
    httpx.PoolTimeout: RemotePoolTimeout,
}


@contextlib.contextmanager
def translate_timeouts() -> Iterator[None]:
    """Re-raise httpx timeouts as `RemoteTimeout` subclasses of the same httpx class."""
    try:
        yield
    except httpx.TimeoutException as exc:
        if isinstance(exc, RemoteTimeout):
            raise
        try:
            request: httpx.Request | None = _redacted(exc.request)
        except RuntimeError:
            request = None
        url = request.url if request is not None else "the server"
        cls = next((ours for theirs, ours in _TIMEOUTS.items() if isinstance(exc, theirs)), None)
        raise (cls or RemoteTimeout)(
            f"{type(exc).__name__}: no answer from {url} in time ({exc})",
            request=request,
        ) from exc

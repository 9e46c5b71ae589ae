"""The HTTP half of `RemoteRunnable`: its httpx clients, POSTs and SSE streams.

Sync and async twins differ only in `with`/`async with` and `for`/`async for`;
what is sent and how answers are read is decided in `_client_base`.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator, Iterator, Mapping, Sequence
from typing import Any
from uuid import UUID

import httpx
import orjson
from httpx_sse import EventSource
from langchain_core.callbacks import BaseCallbackHandler

from langserve_like import _client_base as base
from langserve_like.callbacks import EventReplayer, ReplayCall, areplay, replay
from langserve_like.serialization import Serializer

__all__ = ["Connection", "Replay"]

_JSON_HEADERS = {"Content-Type": "application/json"}
_OWN_CLIENT_OPTIONS = "timeout, headers, auth, cookies, verify, cert and client_kwargs"


class Replay:
    """Replays the server's callback events of one client run into its handlers."""

    def __init__(self, handlers: Sequence[BaseCallbackHandler], parent_run_id: UUID) -> None:
        self.handlers = list(handlers)
        self._replayer = EventReplayer(parent_run_id)

    def _calls(self, events: Sequence[Any]) -> list[ReplayCall]:
        return [call for event in events if (call := self._replayer.call(event))]

    def send(self, events: Sequence[Any]) -> None:
        replay(self.handlers, self._calls(events))

    async def asend(self, events: Sequence[Any]) -> None:
        await areplay(self.handlers, self._calls(events))


class Connection:
    """One route's URL plus the httpx clients that reach it.

    Clients passed in are used as they are and never closed here; the others are
    created on first use (an async-only program never opens a sync client) from
    `options`, and closed by `close()` / `aclose()`.
    """

    def __init__(
        self,
        url: str,
        options: Mapping[str, Any],
        client: httpx.Client | None,
        async_client: httpx.AsyncClient | None,
        serializer: Serializer,
    ) -> None:
        if client is not None and async_client is not None and set(options) - {"timeout"}:
            raise ValueError(
                f"{_OWN_CLIENT_OPTIONS} configure the httpx clients RemoteRunnable "
                "creates; set them on the clients you pass instead"
            )
        self.url = url
        self.serializer = serializer
        self._options = dict(options)
        self._client = client
        self._async_client = async_client
        self._owns_client = client is None
        self._owns_async_client = async_client is None
        # RunnableParallel and batch call invoke from worker threads.
        self._lock = threading.Lock()

    @property
    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(**self._options)
            return self._client

    @property
    def async_client(self) -> httpx.AsyncClient:
        with self._lock:
            if self._async_client is None:
                self._async_client = httpx.AsyncClient(**self._options)
            return self._async_client

    def close(self) -> None:
        with self._lock:
            client = self._client if self._owns_client else None
            if client is not None:
                self._client = None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        self.close()
        with self._lock:
            client = self._async_client if self._owns_async_client else None
            if client is not None:
                self._async_client = None
        if client is not None:
            await client.aclose()

    def _request(self, endpoint: str, payload: Any, *, sse: bool) -> dict[str, Any]:
        return {
            "method": "POST",
            "url": base.endpoint_url(self.url, endpoint),
            "content": orjson.dumps(payload),
            "headers": {**_JSON_HEADERS, **(base.SSE_HEADERS if sse else {})},
        }

    def post(self, endpoint: str, payload: Any) -> httpx.Response:
        with base.translate_timeouts():
            return self.client.request(**self._request(endpoint, payload, sse=False))

    async def apost(self, endpoint: str, payload: Any) -> httpx.Response:
        with base.translate_timeouts():
            client = self.async_client
            return await client.request(**self._request(endpoint, payload, sse=False))

    def sse(self, endpoint: str, payload: Any, to: Replay | None) -> Iterator[Any]:
        """The decoded `data` of a stream; `callback` frames are replayed into `to`."""
        client = self.client
        request = client.build_request(**self._request(endpoint, payload, sse=True))
        with base.translate_timeouts():
            response = client.send(request, stream=True)
            try:
                if response.is_error:
                    response.read()
                base.check_stream_response(response)
                for sse in EventSource(response).iter_sse():
                    item = base.decode_sse(self.serializer, sse, request)
                    if item.kind == "end":
                        return
                    if item.kind == "data":
                        yield item.value
                    elif item.kind == "callback" and to is not None:
                        to.send([item.value])
            finally:
                response.close()
        raise base.stream_ended_early(request.url)

    async def asse(
        self, endpoint: str, payload: Any, to: Replay | None
    ) -> AsyncGenerator[Any, None]:
        client = self.async_client
        request = client.build_request(**self._request(endpoint, payload, sse=True))
        with base.translate_timeouts():
            response = await client.send(request, stream=True)
            try:
                if response.is_error:
                    await response.aread()
                base.check_stream_response(response)
                async for sse in EventSource(response).aiter_sse():
                    item = base.decode_sse(self.serializer, sse, request)
                    if item.kind == "end":
                        return
                    if item.kind == "data":
                        yield item.value
                    elif item.kind == "callback" and to is not None:
                        await to.asend([item.value])
            finally:
                await response.aclose()
        raise base.stream_ended_early(request.url)

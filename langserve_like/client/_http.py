"""The HTTP half of `RemoteRunnable`: its httpx clients, POSTs and SSE streams.

Sync and async twins differ only in `with`/`async with` and `for`/`async for`;
what is sent and how answers are read is decided in `_client_base`.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncGenerator, Iterator, Mapping, Sequence
from typing import Any
from uuid import UUID

import httpx
import orjson
from httpx_sse import EventSource
from langchain_core.callbacks import BaseCallbackHandler

import langserve_like.client._base as base
from langserve_like.client.replay import EventReplayer, ReplayCall, areplay, replay
from langserve_like.exceptions import RemoteRunError, StreamError
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

    def abort(self, error: BaseException) -> None:
        """End the server runs a broken-off stream left open."""
        replay(self.handlers, self._replayer.abort(_server_side(error)))

    async def aabort(self, error: BaseException) -> None:
        await areplay(self.handlers, self._replayer.abort(_server_side(error)))


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # not in asyncio (no loop, or another async library)
        return None


def _server_side(error: BaseException) -> BaseException:
    if isinstance(error, StreamError):
        return RemoteRunError(error.status_code, str(error.detail))
    return error


class Connection:
    """One route's URL plus the httpx clients that reach it.

    Clients passed in are used as they are and never closed here; the others are
    created on first use (an async-only program never opens a sync client) from
    `options` (httpx client arguments; DEFAULT_TIMEOUT unless they set `timeout`),
    and closed by `close()` / `aclose()`.
    """

    def __init__(
        self,
        url: str,
        options: Mapping[str, Any],
        client: httpx.Client | None,
        async_client: httpx.AsyncClient | None,
        serializer: Serializer,
    ) -> None:
        if client is not None and async_client is not None and options:
            raise ValueError(
                f"{_OWN_CLIENT_OPTIONS} configure the httpx clients RemoteRunnable "
                "creates; set them on the clients you pass instead"
            )
        self.url = base.route_url(url)
        self.serializer = serializer
        self._options = {"timeout": base.DEFAULT_TIMEOUT, **options}
        self._client = client
        self._async_client = async_client
        self._owns_client = client is None
        self._owns_async_client = async_client is None
        # Where each client's requests go: `url`, unless a client was assigned
        # with a base_url of its own (see `assign`).
        self._target = self.url
        self._async_target = self.url
        self._async_loop: weakref.ref[asyncio.AbstractEventLoop] | None = None
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
        loop = _running_loop()
        with self._lock:
            stale = (
                self._owns_async_client
                and self._async_loop is not None
                and loop is not None
                and self._async_loop() is not loop
            )
            if self._async_client is None or stale:
                # Pooled connections belong to the event loop that opened them; a
                # second `asyncio.run()` must not reuse them ("Event loop is closed").
                self._async_client = httpx.AsyncClient(**self._options)
                self._async_loop = weakref.ref(loop) if loop is not None else None
            return self._async_client

    def assign(self, client: httpx.Client | httpx.AsyncClient) -> None:
        """Use `client` from now on, as LangServe's client does when its
        `sync_client` / `async_client` attribute is set: requests go to the
        client's `base_url` when it has one (else to `url`), and the client stays
        the caller's (never closed here)."""
        target = base.route_url(str(client.base_url)) if str(client.base_url) else self.url
        with self._lock:
            if isinstance(client, httpx.AsyncClient):
                # A replaced async client of ours is dropped unclosed: closing needs
                # an event loop, and one created lazily has opened no connection
                # unless it was used (then garbage collection closes its sockets).
                self._async_client, self._owns_async_client = client, False
                self._async_target = target
                return
            old = self._client if self._owns_client else None
            self._client, self._owns_client, self._target = client, False, target
        if old is not None:
            old.close()

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

    def _request(self, target: str, endpoint: str, payload: Any, *, sse: bool) -> dict[str, Any]:
        return {
            "method": "POST",
            "url": base.endpoint_url(target, endpoint),
            "content": orjson.dumps(payload),
            "headers": {**_JSON_HEADERS, **(base.SSE_HEADERS if sse else {})},
        }

    def post(self, endpoint: str, payload: Any) -> httpx.Response:
        with base.translate_timeouts():
            client = self.client
            return client.request(**self._request(self._target, endpoint, payload, sse=False))

    async def apost(self, endpoint: str, payload: Any) -> httpx.Response:
        with base.translate_timeouts():
            client = self.async_client
            request = self._request(self._async_target, endpoint, payload, sse=False)
            return await client.request(**request)

    def sse(self, endpoint: str, payload: Any, to: Replay | None) -> Iterator[Any]:
        """The decoded `data` of a stream; `callback` frames are replayed into `to`."""
        client = self.client
        request = client.build_request(**self._request(self._target, endpoint, payload, sse=True))
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
            except Exception as exc:
                if to is not None:
                    to.abort(exc)
                raise
            finally:
                response.close()
        raise base.stream_ended_early(request.url)

    async def asse(
        self, endpoint: str, payload: Any, to: Replay | None
    ) -> AsyncGenerator[Any, None]:
        client = self.async_client
        target = self._async_target
        request = client.build_request(**self._request(target, endpoint, payload, sse=True))
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
            except Exception as exc:
                if to is not None:
                    await to.aabort(exc)
                raise
            finally:
                await response.aclose()
        raise base.stream_ended_early(request.url)

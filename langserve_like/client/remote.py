"""`RemoteRunnable`: a runnable served by langserve_like or LangServe, called over HTTP.

>>> from langserve_like import RemoteRunnable
>>> joke = RemoteRunnable("http://localhost:8000/joke")
>>> joke.invoke({"topic": "cats"})                    # doctest: +SKIP
>>> for chunk in joke.stream({"topic": "cats"}):      # doctest: +SKIP
...     print(chunk.content, end="")

Only httpx and langchain-core are needed: no FastAPI. Errors are described in
`langserve_like.exceptions`; the request bodies and the decoding of answers in
`langserve_like.client._base`.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any, cast

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForChainRun, CallbackManagerForChainRun
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import ensure_config, get_async_callback_manager_for_config
from langchain_core.runnables.schema import StreamEvent
from langchain_core.runnables.utils import AddableDict
from langchain_core.tracers.log_stream import RunLog, RunLogPatch

import langserve_like.client._base as base
from langserve_like.client._http import Connection, Replay
from langserve_like.exceptions import ProtocolError
from langserve_like.serialization import Serializer, WellKnownLCSerializer

__all__ = ["DEFAULT_TIMEOUT", "RemoteRunnable"]

DEFAULT_TIMEOUT = base.DEFAULT_TIMEOUT
_UNSET: Any = object()


class RemoteRunnable(Runnable[Any, Any]):
    """Call a served runnable as if it were local: invoke, batch, stream, and
    `astream_log` / `astream_events`, with callbacks.

    Args:
        url: the route, e.g. `http://host:8000/joke`, or a shared configuration
            `http://host:8000/joke/c/<config_hash>` (its values are kept: an empty
            local `configurable` is not sent, so it cannot reset them).
        timeout: `DEFAULT_TIMEOUT` (10 s to connect, reads unlimited) unless given;
            a number, an `httpx.Timeout`, or `None` for no timeout at all.
        headers, auth, cookies, verify, cert, client_kwargs: passed to the
            `httpx.Client` / `httpx.AsyncClient` this object creates (lazily, on
            first use) and closes in `close()` / `aclose()`.
        client, async_client: use these httpx clients instead (e.g. with
            `httpx.ASGITransport` or `httpx.MockTransport`). They stay yours:
            `close()` does not close them, and the connection options above do
            not apply to them.
        serializer: how inputs are encoded and outputs decoded; the default
            `WellKnownLCSerializer` turns LangChain objects (messages, documents,
            prompt values, ...) back into their classes. A dict becomes one only if
            its `type` tag names a well-known class *and* it has every key the
            server writes for that class, so user data such as
            `{"type": "human", "content": "hi"}` stays a dict. Dict chunks of
            `stream` / `astream` come back as `AddableDict`, so they add up.
        use_server_callback_events: replay the callback events of a server route
            with `include_callback_events=True` into the callback handlers of
            invoke and batch, as child runs of the remote call (fresh run ids).
        stream_server_callback_events: replay them on stream, astream,
            astream_log and astream_events too (langserve_like servers only; off
            by default: LangServe's client traced only its own run there).

    Extra keyword arguments to invoke and batch raise `NotImplementedError`; those
    of the streams are sent to the server as `kwargs` (both as LangServe's client).

    `batch(..., return_exceptions=True)` sends one `/invoke` per input
    (concurrently, up to `max_concurrency`) instead of one `/batch`: a server
    fails a whole `/batch` when one input fails, and re-running the others would
    run them twice. With `return_exceptions=False` it is a single `/batch`.

    `astream_events(version=...)` is ignored: the server chooses the version
    (`add_routes(astream_events_version=...)`).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float | httpx.Timeout | None = _UNSET,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        cookies: Mapping[str, str] | httpx.Cookies | None = None,
        verify: Any = True,
        cert: Any = None,
        client_kwargs: Mapping[str, Any] | None = None,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
        serializer: Serializer | None = None,
        use_server_callback_events: bool = True,
        stream_server_callback_events: bool = False,
    ) -> None:
        options: dict[str, Any] = {
            **({} if timeout is _UNSET else {"timeout": timeout}),
            **{
                name: value
                for name, value in (
                    ("headers", headers),
                    ("auth", auth),
                    ("cookies", cookies),
                    ("cert", cert),
                )
                if value is not None
            },
            **({} if verify is True else {"verify": verify}),
            **dict(client_kwargs or {}),
        }
        serializer = serializer or WellKnownLCSerializer(default=base.encode_input)
        self._http = Connection(url, options, client, async_client, serializer)
        self._serializer = serializer
        self._use_server_callback_events = use_server_callback_events
        self._stream_server_callback_events = stream_server_callback_events

    @property
    def url(self) -> str:
        return self._http.url

    @property
    def sync_client(self) -> httpx.Client:
        """The `httpx.Client` of the sync methods (created on first use if not given).

        Assignable, as with LangServe's client: `remote.sync_client = httpx.Client(
        base_url=url, transport=...)`. Requests then go to that client's `base_url`
        (to `url` if it has none), and `close()` leaves it open.
        """
        return self._http.client

    @sync_client.setter
    def sync_client(self, client: httpx.Client) -> None:
        self._http.assign(client)

    @property
    def async_client(self) -> httpx.AsyncClient:
        """The `httpx.AsyncClient` of the async methods (created on first use if not
        given); assignable like `sync_client`."""
        return self._http.async_client

    @async_client.setter
    def async_client(self, client: httpx.AsyncClient) -> None:
        self._http.assign(client)

    def close(self) -> None:
        """Close the sync client this object created (`aclose` closes both)."""
        self._http.close()

    async def aclose(self) -> None:
        """Close the clients this object created."""
        await self._http.aclose()

    def __enter__(self) -> RemoteRunnable:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> RemoteRunnable:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _replay_for(
        self,
        run_manager: CallbackManagerForChainRun | AsyncCallbackManagerForChainRun,
        *,
        stream: bool = False,
    ) -> Replay | None:
        """Where server events go, or None when nobody would see them."""
        if not self._use_server_callback_events:
            return None
        if stream and not self._stream_server_callback_events:
            return None
        handlers = run_manager.get_child().handlers
        return Replay(handlers, run_manager.run_id) if handlers else None

    # --- invoke ------------------------------------------------------------------------

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        base.reject_kwargs(kwargs)
        return self._call_with_config(self._invoke, input, config)

    def _invoke(
        self,
        input: Any,
        run_manager: CallbackManagerForChainRun,
        config: RunnableConfig,
        **kwargs: Any,
    ) -> Any:
        payload = base.invoke_payload(self._serializer, input, config, kwargs)
        response = self._http.post("invoke", payload)
        output, events = base.decode_invoke(self._serializer, response)
        if to := self._replay_for(run_manager):
            to.send(events)
        return output

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        base.reject_kwargs(kwargs)
        return await self._acall_with_config(self._ainvoke, input, config)

    async def _ainvoke(
        self,
        input: Any,
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
        **kwargs: Any,
    ) -> Any:
        payload = base.invoke_payload(self._serializer, input, config, kwargs)
        response = await self._http.apost("invoke", payload)
        output, events = base.decode_invoke(self._serializer, response)
        if to := self._replay_for(run_manager):
            await to.asend(events)
        return output

    # --- batch -------------------------------------------------------------------------

    def batch(
        self,
        inputs: list[Any],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        base.reject_kwargs(kwargs, batch=True)
        if return_exceptions:
            # One /invoke per input: see the class docstring.
            return super().batch(inputs, config, return_exceptions=True)
        return self._batch_with_config(self._batch, inputs, config)

    def _batch(
        self,
        inputs: list[Any],
        run_manager: list[CallbackManagerForChainRun],
        config: list[RunnableConfig],
        **kwargs: Any,
    ) -> list[Any]:
        payload = base.batch_payload(self._serializer, inputs, config, kwargs)
        response = self._http.post("batch", payload)
        outputs, events = base.decode_batch(self._serializer, response, len(inputs))
        for manager, item_events in zip(run_manager, events, strict=True):
            if to := self._replay_for(manager):
                to.send(item_events)
        return outputs

    async def abatch(
        self,
        inputs: list[Any],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        base.reject_kwargs(kwargs)
        if return_exceptions:
            return await super().abatch(inputs, config, return_exceptions=True)
        return await self._abatch_with_config(self._abatch, inputs, config)

    async def _abatch(
        self,
        inputs: list[Any],
        run_manager: list[AsyncCallbackManagerForChainRun],
        config: list[RunnableConfig],
        **kwargs: Any,
    ) -> list[Any]:
        payload = base.batch_payload(self._serializer, inputs, config, kwargs)
        response = await self._http.apost("batch", payload)
        outputs, events = base.decode_batch(self._serializer, response, len(inputs))
        for manager, item_events in zip(run_manager, events, strict=True):
            if to := self._replay_for(manager):
                await to.asend(item_events)
        return outputs

    # --- stream ------------------------------------------------------------------------

    def stream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[Any]:
        """Yield the output chunks; dict chunks come back as `AddableDict`."""
        yield from self._transform_stream_with_config(iter([input]), self._stream, config, **kwargs)

    def _stream(
        self,
        inputs: Iterator[Any],
        run_manager: CallbackManagerForChainRun,
        config: RunnableConfig,
        **kwargs: Any,
    ) -> Iterator[Any]:
        to = self._replay_for(run_manager, stream=True)
        payload = base.stream_payload(
            self._serializer, next(inputs), config, kwargs, callback_events=bool(to)
        )
        for chunk in self._http.sse("stream", payload, to):
            yield AddableDict(chunk) if isinstance(chunk, dict) else chunk

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        """Yield the output chunks; dict chunks come back as `AddableDict`."""

        async def one() -> AsyncIterator[Any]:
            yield input

        async for chunk in self._atransform_stream_with_config(
            one(), self._astream, config, **kwargs
        ):
            yield chunk

    async def _astream(
        self,
        inputs: AsyncIterator[Any],
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
        **kwargs: Any,
    ) -> AsyncIterator[Any]:
        to = self._replay_for(run_manager, stream=True)
        input = await anext(inputs)
        payload = base.stream_payload(
            self._serializer, input, config, kwargs, callback_events=bool(to)
        )
        async with contextlib.aclosing(self._http.asse("stream", payload, to)) as chunks:
            async for chunk in chunks:
                yield AddableDict(chunk) if isinstance(chunk, dict) else chunk

    # --- stream_log and stream_events --------------------------------------------------

    async def _arun_stream(
        self,
        endpoint: str,
        input: Any,
        config: RunnableConfig | None,
        kwargs: Mapping[str, Any],
        filters: Mapping[str, Sequence[str] | None],
        diff: bool | None,
        outputs: Callable[[], Any],
    ) -> AsyncGenerator[Any, None]:
        """Wrap a /stream_log or /stream_events call in a client-side chain run.

        `outputs()` gives what the run reports to `on_chain_end`.
        """
        config = ensure_config(config)
        manager = get_async_callback_manager_for_config(config)
        run_manager = await manager.on_chain_start(
            None,
            input,
            name=config.get("run_name") or self.get_name(),
            run_id=config.pop("run_id", None),
        )
        to = self._replay_for(run_manager, stream=True)
        payload = base.stream_payload(
            self._serializer,
            input,
            config,
            kwargs,
            callback_events=bool(to),
            filters=filters,
            diff=diff,
        )
        try:
            async with contextlib.aclosing(self._http.asse(endpoint, payload, to)) as data:
                async for item in data:
                    yield item
        except BaseException as exc:
            await run_manager.on_chain_error(exc)
            raise
        await run_manager.on_chain_end(outputs())

    async def astream_log(  # type: ignore[override]
        self,
        input: Any,
        config: RunnableConfig | None = None,
        *,
        diff: bool = True,
        with_streamed_output_list: bool = True,
        include_names: Sequence[str] | None = None,
        include_types: Sequence[str] | None = None,
        include_tags: Sequence[str] | None = None,
        exclude_names: Sequence[str] | None = None,
        exclude_types: Sequence[str] | None = None,
        exclude_tags: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[RunLogPatch | RunLog]:
        """Yield `RunLogPatch`es (their sum is a `RunLog`); with `diff=False`,
        the accumulated `RunLog` after each patch, as langchain-core does."""
        filters = {
            "include_names": include_names,
            "include_types": include_types,
            "include_tags": include_tags,
            "exclude_names": exclude_names,
            "exclude_types": exclude_types,
            "exclude_tags": exclude_tags,
        }
        state = RunLog(state=None)  # type: ignore[arg-type]

        # The client run's output is the whole RunLog, as with LangServe's client.
        stream = self._arun_stream(
            "stream_log", input, config, kwargs, filters, True, lambda: state
        )
        async with contextlib.aclosing(stream):
            async for data in stream:
                ops = data.get("ops") if isinstance(data, dict) else None
                if not isinstance(ops, list):
                    raise ProtocolError("a /stream_log data event has no `ops` list")
                # The caller may mutate what it gets; the accumulated state is ours.
                state = state + RunLogPatch(*copy.deepcopy(ops))
                yield RunLogPatch(*ops) if diff else copy.deepcopy(state)

    async def astream_events(  # type: ignore[override]
        self,
        input: Any,
        config: RunnableConfig | None = None,
        *,
        version: str | None = None,
        include_names: Sequence[str] | None = None,
        include_types: Sequence[str] | None = None,
        include_tags: Sequence[str] | None = None,
        exclude_names: Sequence[str] | None = None,
        exclude_types: Sequence[str] | None = None,
        exclude_tags: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[StreamEvent]:
        """Yield the server's stream events (the server picks the `version`)."""
        filters = {
            "include_names": include_names,
            "include_types": include_types,
            "include_tags": include_tags,
            "exclude_names": exclude_names,
            "exclude_types": exclude_types,
            "exclude_tags": exclude_tags,
        }
        events: list[Any] = []
        stream = self._arun_stream(
            "stream_events", input, config, kwargs, filters, None, lambda: events
        )
        async with contextlib.aclosing(stream):
            async for event in stream:
                if not isinstance(event, dict) or "event" not in event:
                    raise ProtocolError("a /stream_events data event is not an event")
                events.append(event)
                yield cast(StreamEvent, event)

"""Every error kind RemoteRunnable raises (the tree in `langserve_like.exceptions`).

Answers are scripted with `httpx.MockTransport`, byte for byte as LangServe 0.3.3
and langserve_like servers write them.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from langserve_like import RemoteRunnable
from langserve_like.exceptions import (
    LangServeError,
    ProtocolError,
    RemoteError,
    RemoteRequestError,
    RemoteServerError,
    RemoteTimeout,
    StreamError,
)

URL = "http://server/chain"
SSE = {"content-type": "text/event-stream; charset=utf-8"}
ERROR_EVENT = (
    b'event: error\r\ndata: {"status_code": 500, "message": "Internal Server Error"}\r\n\r\n'
)
Handler = Callable[[httpx.Request], httpx.Response]


def remote_for(handler: Handler, **kwargs: object) -> RemoteRunnable:
    transport = httpx.MockTransport(handler)
    return RemoteRunnable(URL, client=httpx.Client(transport=transport), **kwargs)  # type: ignore[arg-type]


def answer(status: int, **kwargs: object) -> Handler:
    return lambda request: httpx.Response(status, **kwargs)  # type: ignore[arg-type]


def sse(*frames: bytes) -> Handler:
    return answer(200, headers=SSE, content=b"".join(frames))


def test_remote_raises_request_error_with_the_detail_of_a_422() -> None:
    detail = [{"type": "int_parsing", "loc": [], "msg": "Input should be a valid integer"}]
    remote = remote_for(answer(422, json={"detail": detail}))

    with pytest.raises(RemoteRequestError) as caught:
        remote.invoke("x")

    assert isinstance(caught.value, httpx.HTTPStatusError)
    assert caught.value.status_code == caught.value.response.status_code == 422
    assert caught.value.detail == detail
    assert "Input should be a valid integer" in str(caught.value)


def test_remote_raises_server_error_for_langserve_plain_text_500() -> None:
    remote = remote_for(answer(500, text="Internal Server Error"))

    with pytest.raises(RemoteServerError) as caught:
        remote.invoke(1)

    assert isinstance(caught.value, httpx.HTTPStatusError)
    assert caught.value.status_code == 500
    assert caught.value.detail == "Internal Server Error"
    assert caught.value.run_id is None


def test_remote_plain_500_takes_the_run_id_from_its_header() -> None:
    run_id = "0b8d6a1e-0000-4000-8000-000000000001"
    remote = remote_for(answer(500, text="Internal Server Error", headers={"x-run-id": run_id}))

    with pytest.raises(RemoteServerError) as caught:
        remote.invoke(1)

    assert (caught.value.detail, caught.value.run_id) == ("Internal Server Error", run_id)


def test_remote_server_error_carries_the_run_id_langserve_like_sends() -> None:
    body = {"detail": "Internal Server Error", "run_id": "0b8d6a1e-0000-4000-8000-000000000000"}
    remote = remote_for(answer(500, json=body))

    with pytest.raises(RemoteServerError) as caught:
        remote.batch([1, 2])

    assert caught.value.run_id == body["run_id"]


def test_remote_stream_raises_request_error_before_any_chunk() -> None:
    remote = remote_for(answer(404, json={"detail": "Not Found"}))

    with pytest.raises(RemoteRequestError) as caught:
        list(remote.stream(1))

    assert (caught.value.status_code, caught.value.detail) == (404, "Not Found")


def test_remote_stream_raises_stream_error_after_the_chunks_before_it() -> None:
    remote = remote_for(sse(b'event: data\r\ndata: "a"\r\n\r\n', ERROR_EVENT))
    chunks = remote.stream("x")

    assert next(chunks) == "a"
    with pytest.raises(StreamError) as caught:
        next(chunks)

    assert isinstance(caught.value, httpx.HTTPStatusError)
    assert caught.value.status_code == 500
    assert caught.value.detail == "Internal Server Error"


@pytest.mark.anyio
async def test_remote_astream_events_raises_stream_error() -> None:
    transport = httpx.MockTransport(sse(ERROR_EVENT))
    async with httpx.AsyncClient(transport=transport) as client:
        remote = RemoteRunnable(URL, async_client=client)
        with pytest.raises(StreamError):
            async for _ in remote.astream_events(1, version="v2"):
                pass


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        pytest.param(answer(200, text="<html>"), "JSON", id="invoke-not-json"),
        pytest.param(answer(200, json={"out": 1}), "output", id="invoke-no-output"),
        pytest.param(answer(200, json=[1]), "output", id="invoke-not-object"),
    ],
)
def test_remote_invoke_raises_protocol_error_for_a_foreign_answer(
    handler: Handler, message: str
) -> None:
    with pytest.raises(ProtocolError, match=message):
        remote_for(handler).invoke(1)


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        pytest.param(answer(200, json={"output": 1}), "text/event-stream", id="not-sse"),
        pytest.param(sse(b"event: data\r\ndata: {oops\r\n\r\n"), "not JSON", id="bad-json"),
        pytest.param(sse(b'event: data\r\ndata: "a"\r\n\r\n'), "without an `end`", id="no-end"),
    ],
)
def test_remote_stream_raises_protocol_error_for_a_foreign_stream(
    handler: Handler, message: str
) -> None:
    with pytest.raises(ProtocolError, match=message):
        list(remote_for(handler).stream(1))


def test_remote_batch_raises_protocol_error_for_a_wrong_output_count() -> None:
    with pytest.raises(ProtocolError, match="2 outputs"):
        remote_for(answer(200, json={"output": [1]})).batch([1, 2])


def test_remote_stream_ignores_events_it_does_not_know() -> None:
    remote = remote_for(
        sse(
            b'event: metadata\r\ndata: {"run_id": "x"}\r\n\r\n',
            b"event: future_thing\r\ndata: {}\r\n\r\n",
            b": ping\r\n\r\n",
            b"event: data\r\ndata: 1\r\n\r\n",
            b"event: end\r\n\r\n",
        )
    )

    assert list(remote.stream(1)) == [1]


@pytest.mark.parametrize(
    "timeout", [httpx.ConnectTimeout, httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout]
)
def test_remote_raises_remote_timeout_that_is_the_same_httpx_timeout(
    timeout: type[httpx.TimeoutException],
) -> None:
    # `except httpx.ReadTimeout:` written for LangServe's client must still catch it.
    def slow(request: httpx.Request) -> httpx.Response:
        raise timeout("timed out", request=request)

    with pytest.raises(RemoteTimeout) as caught:
        remote_for(slow).invoke(1)
    with pytest.raises(timeout):
        list(remote_for(slow).stream(1))

    assert isinstance(caught.value, timeout)
    assert isinstance(caught.value.__cause__, timeout)


def test_remote_error_redacts_credentials_in_its_request() -> None:
    transport = httpx.MockTransport(answer(401, json={"detail": "no"}))
    client = httpx.Client(transport=transport, headers={"Authorization": "Bearer s3cret"})
    remote = RemoteRunnable(URL, client=client)

    with pytest.raises(RemoteRequestError) as caught:
        remote.invoke(1)

    assert caught.value.request.headers["authorization"] == "[redacted]"
    assert "s3cret" not in repr(caught.value.request.headers)


def test_remote_errors_form_one_tree() -> None:
    for cls in (RemoteRequestError, RemoteServerError, StreamError):
        assert issubclass(cls, RemoteError)
        assert issubclass(cls, httpx.HTTPStatusError)
    for cls in (RemoteError, ProtocolError, RemoteTimeout):
        assert issubclass(cls, LangServeError)


def test_remote_batch_with_return_exceptions_reports_each_input() -> None:
    paths: list[str] = []

    def per_input(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        value = httpx.Response(200, content=request.content).json()["input"]
        if value < 0:
            return httpx.Response(500, text="Internal Server Error")
        return httpx.Response(200, json={"output": value + 1, "metadata": {}})

    outputs = remote_for(per_input).batch([1, -1, 3], return_exceptions=True)

    assert outputs[0] == 2
    assert outputs[2] == 4
    assert isinstance(outputs[1], RemoteServerError)
    # One /invoke per input: nothing runs twice, nothing goes to /batch.
    assert sorted(paths) == ["/chain/invoke"] * 3

"""What RemoteRunnable puts on the wire, captured with MockTransport.

langserve_like servers reject unknown top-level keys, so only LangServe's keys are
sent, plus `callback_events` on streams when asked to replay them into a handler.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import HumanMessage
from langchain_core.prompts import ChatPromptTemplate

from langserve_like import RemoteRunnable
from langserve_like.client.remote import DEFAULT_TIMEOUT

URL = "http://server/chain/c/N4Ig"
STREAM_END = b"event: end\r\n\r\n"


class Recorder:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/invoke"):
            return httpx.Response(200, json={"output": None, "metadata": {}})
        if request.url.path.endswith("/batch"):
            size = len(json.loads(request.content)["inputs"])
            return httpx.Response(200, json={"output": [None] * size, "metadata": {}})
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=STREAM_END
        )

    @property
    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.requests[-1].content)
        return body


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def remote(recorder: Recorder) -> RemoteRunnable:
    return RemoteRunnable(URL, client=httpx.Client(transport=httpx.MockTransport(recorder)))


def test_remote_invoke_posts_input_config_and_kwargs(
    remote: RemoteRunnable, recorder: Recorder
) -> None:
    remote.invoke([HumanMessage(content="hi")], {"tags": ["t"], "configurable": {"k": 1}})

    request = recorder.requests[-1]
    assert str(request.url) == f"{URL}/invoke"
    assert request.headers["content-type"] == "application/json"
    assert set(recorder.body) == {"input", "config", "kwargs"}
    assert recorder.body["input"][0]["type"] == "human"
    assert recorder.body["config"]["tags"] == ["t"]
    assert recorder.body["config"]["configurable"] == {"k": 1}


def test_remote_config_omits_callbacks_run_ids_and_local_objects(
    remote: RemoteRunnable, recorder: Recorder
) -> None:
    remote.invoke(
        1,
        {
            "callbacks": [BaseCallbackHandler()],
            "run_id": None,
            "run_name": "mine",
            "metadata": {"user": "ann", "handle": object()},
            "configurable": {"history": object()},
        },
    )

    config = recorder.body["config"]
    assert "callbacks" not in config
    assert "run_id" not in config
    assert "run_name" not in config
    assert config["metadata"] == {"user": "ann"}
    # Nothing JSON was left in it: an empty one would reset a /c/<hash> config.
    assert "configurable" not in config


def test_remote_batch_posts_one_config_per_input(
    remote: RemoteRunnable, recorder: Recorder
) -> None:
    remote.batch([1, 2], {"tags": ["t"]})

    assert str(recorder.requests[-1].url) == f"{URL}/batch"
    assert set(recorder.body) == {"inputs", "config", "kwargs"}
    assert recorder.body["inputs"] == [1, 2]
    assert [c["tags"] for c in recorder.body["config"]] == [["t"], ["t"]]


def test_remote_stream_asks_for_sse(remote: RemoteRunnable, recorder: Recorder) -> None:
    assert list(remote.stream(1)) == []

    request = recorder.requests[-1]
    assert str(request.url) == f"{URL}/stream"
    assert request.headers["accept"] == "text/event-stream"
    assert set(recorder.body) == {"input", "config", "kwargs"}


def test_remote_stream_asks_for_callback_events_only_when_told_and_with_a_handler(
    recorder: Recorder,
) -> None:
    client = httpx.Client(transport=httpx.MockTransport(recorder))
    replaying = RemoteRunnable(URL, client=client, stream_server_callback_events=True)
    default = RemoteRunnable(URL, client=client)

    list(replaying.stream(1))
    assert "callback_events" not in recorder.body
    list(replaying.stream(1, {"callbacks": [BaseCallbackHandler()]}))
    assert recorder.body["callback_events"] is True
    list(default.stream(1, {"callbacks": [BaseCallbackHandler()]}))
    assert "callback_events" not in recorder.body


@pytest.mark.anyio
async def test_remote_astream_log_posts_diff_and_the_six_filters(recorder: Recorder) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        remote = RemoteRunnable(URL, async_client=client)
        async for _ in remote.astream_log(1, include_names=["a"], exclude_tags=["b"]):
            pass

    assert str(recorder.requests[-1].url) == f"{URL}/stream_log"
    assert recorder.body["diff"] is True
    assert recorder.body["include_names"] == ["a"]
    assert recorder.body["exclude_tags"] == ["b"]
    filters = {"include_types", "include_tags", "exclude_names", "exclude_types"}
    assert all(recorder.body[name] is None for name in filters)


@pytest.mark.anyio
async def test_remote_astream_events_posts_filters_without_diff(recorder: Recorder) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        remote = RemoteRunnable(URL, async_client=client)
        async for _ in remote.astream_events(1, version="v2", include_types=["llm"]):
            pass

    assert str(recorder.requests[-1].url) == f"{URL}/stream_events"
    assert "diff" not in recorder.body
    assert "version" not in recorder.body
    assert recorder.body["include_types"] == ["llm"]


def test_remote_default_timeout_limits_connecting_but_not_reading() -> None:
    remote = RemoteRunnable("http://server/chain")

    assert remote.sync_client.timeout == DEFAULT_TIMEOUT
    assert (DEFAULT_TIMEOUT.connect, DEFAULT_TIMEOUT.read) == (10.0, None)
    remote.close()


def test_remote_passes_connection_options_to_its_clients() -> None:
    remote = RemoteRunnable(
        "http://server/chain", timeout=2.5, headers={"x-api-key": "k"}, cookies={"c": "v"}
    )

    assert remote.sync_client.timeout == httpx.Timeout(2.5)
    assert remote.sync_client.headers["x-api-key"] == "k"
    assert remote.sync_client.cookies["c"] == "v"
    remote.close()


def test_remote_refuses_options_it_cannot_apply_to_given_clients() -> None:
    with pytest.raises(ValueError, match="set them on the clients you pass"):
        RemoteRunnable(
            "http://server/chain",
            client=httpx.Client(),
            async_client=httpx.AsyncClient(),
            headers={"x": "y"},
        )


def test_remote_url_ends_with_a_slash() -> None:
    assert RemoteRunnable("http://server/chain").url == "http://server/chain/"
    assert RemoteRunnable("http://server/chain/").url == "http://server/chain/"


def test_remote_sends_through_an_assigned_client_to_its_base_url(recorder: Recorder) -> None:
    # LangServe's own tests and user code inject transports by assignment.
    remote = RemoteRunnable("http://server/chain")
    given = httpx.Client(base_url="http://elsewhere/other", transport=httpx.MockTransport(recorder))
    remote.sync_client = given

    remote.invoke(1)
    remote.close()

    assert remote.sync_client is given
    assert str(recorder.requests[-1].url) == "http://elsewhere/other/invoke"
    assert not given.is_closed


@pytest.mark.anyio
async def test_remote_sends_through_an_assigned_async_client(recorder: Recorder) -> None:
    remote = RemoteRunnable(URL)
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as given:
        remote.async_client = given
        await remote.ainvoke(1)

    assert remote.async_client is given
    assert str(recorder.requests[-1].url) == f"{URL}/invoke"  # no base_url: the url


def test_remote_sends_a_chat_prompt_value_untagged(
    remote: RemoteRunnable, recorder: Recorder
) -> None:
    # A "type": "ChatPromptValue" tag matches no input class of a chat model: 422.
    prompt = ChatPromptTemplate.from_messages([("human", "hi {name}")])
    (prompt | remote).invoke({"name": "Ann"})

    assert recorder.body["input"] == {
        "messages": [
            {
                "content": "hi Ann",
                "additional_kwargs": {},
                "response_metadata": {},
                "type": "human",
                "name": None,
                "id": None,
            }
        ]
    }


@pytest.mark.anyio
async def test_remote_refuses_extra_kwargs_to_invoke_and_batch_but_streams_send_them(
    remote: RemoteRunnable, recorder: Recorder
) -> None:
    with pytest.raises(NotImplementedError):
        remote.invoke(1, foo=1)
    with pytest.raises(NotImplementedError):
        remote.batch([1], foo=1)
    with pytest.raises(NotImplementedError):
        await remote.ainvoke(1, foo=1)
    with pytest.raises(NotImplementedError):
        await remote.abatch([1], foo=1)
    assert recorder.requests == []

    list(remote.stream(1, foo=1))
    assert recorder.body["kwargs"] == {"foo": 1}

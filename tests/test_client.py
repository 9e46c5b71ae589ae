"""RemoteRunnable against a langserve_like server, in process.

Async methods go through `httpx.ASGITransport`, sync ones through Starlette's
`TestClient` (an `httpx.Client`); both run the real app (`tests/client_app.py`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompt_values import StringPromptValue
from langchain_core.runnables import RunnableLambda, RunnableParallel
from langchain_core.runnables.utils import AddableDict
from langchain_core.tracers.log_stream import RunLog, RunLogPatch

from langserve_like import RemoteRunnable
from tests.client_app import app
from tests.compat.client_scenarios import CONFIG_HASH

BASE = "http://test"
TOPIC = {"topic": "cats"}
JOKE = "hello world this is a joke"


@pytest.fixture
async def async_client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


@pytest.fixture
def sync_client() -> Iterator[httpx.Client]:
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def remote(sync_client: httpx.Client) -> RemoteFactory:
    """RemoteRunnables for sync tests."""
    return RemoteFactory(client=sync_client)


@pytest.fixture
def aremote(async_client: httpx.AsyncClient) -> RemoteFactory:
    """RemoteRunnables for async tests."""
    return RemoteFactory(async_client=async_client)


class RemoteFactory:
    def __init__(
        self, client: httpx.Client | None = None, async_client: httpx.AsyncClient | None = None
    ) -> None:
        self.client = client
        self.async_client = async_client

    def __call__(self, path: str, **kwargs: object) -> RemoteRunnable:
        return RemoteRunnable(
            BASE + path, client=self.client, async_client=self.async_client, **kwargs
        )


def test_remote_invoke_returns_the_message_class(remote: RemoteFactory) -> None:
    message = remote("/chat").invoke(TOPIC)

    assert isinstance(message, AIMessage)
    assert message.content == JOKE


@pytest.mark.anyio
async def test_remote_ainvoke_returns_documents(aremote: RemoteFactory) -> None:
    docs = await aremote("/docs").ainvoke("llamas")

    assert docs == [
        Document(page_content="first doc about llamas", metadata={"rank": 1}),
        Document(page_content="second doc about llamas", metadata={"rank": 2}),
    ]


def test_remote_batch_returns_outputs_in_input_order(remote: RemoteFactory) -> None:
    assert remote("/add_one").batch([1, 2, 3]) == [2, 3, 4]
    assert remote("/add_one").batch([]) == []


@pytest.mark.anyio
async def test_remote_abatch_takes_one_config_per_input(aremote: RemoteFactory) -> None:
    configurable = aremote("/configurable")
    outputs = await configurable.abatch(
        [{"name": "Ann"}, {"name": "Bob"}],
        [{"configurable": {"template": "Hi {name}"}}, {}],
    )

    assert outputs == [StringPromptValue(text="Hi Ann"), StringPromptValue(text="Hello Bob!")]


def test_remote_stream_yields_addable_dict_chunks(remote: RemoteFactory) -> None:
    chunks = list(remote("/parallel").stream(5))

    assert all(type(chunk) is AddableDict for chunk in chunks)
    assert sum(chunks, AddableDict()) == {"doubled": 10, "as_text": "value=5"}


@pytest.mark.anyio
async def test_remote_astream_yields_message_chunks(aremote: RemoteFactory) -> None:
    chunks = [chunk async for chunk in aremote("/chat").astream(TOPIC)]

    assert all(isinstance(chunk, AIMessageChunk) for chunk in chunks)
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert total.content == JOKE


@pytest.mark.anyio
async def test_remote_astream_log_patches_sum_to_a_run_log(aremote: RemoteFactory) -> None:
    patches = [patch async for patch in aremote("/chat_str").astream_log(TOPIC)]

    assert all(type(patch) is RunLogPatch for patch in patches)
    total = sum(patches[1:], patches[0])
    assert isinstance(total, RunLog)
    assert total.state["final_output"] == JOKE
    assert set(total.state["logs"]) == {
        "ChatPromptTemplate",
        "GenericFakeChatModel",
        "StrOutputParser",
    }


@pytest.mark.anyio
async def test_remote_astream_log_without_diff_yields_growing_states(
    aremote: RemoteFactory,
) -> None:
    states = [state async for state in aremote("/chat_str").astream_log(TOPIC, diff=False)]

    assert all(type(state) is RunLog for state in states)
    assert states[-1].state["final_output"] == JOKE
    assert "".join(states[-1].state["streamed_output"]) == JOKE


@pytest.mark.anyio
async def test_remote_astream_log_filters_reach_the_server(aremote: RemoteFactory) -> None:
    patches = [
        patch
        async for patch in aremote("/chat_str").astream_log(
            TOPIC, include_names=["StrOutputParser"]
        )
    ]

    logs = sum(patches[1:], patches[0]).state["logs"]
    assert list(logs) == ["StrOutputParser"]


@pytest.mark.anyio
async def test_remote_astream_events_yields_decoded_events(aremote: RemoteFactory) -> None:
    events = [event async for event in aremote("/chat").astream_events(TOPIC, version="v2")]

    names = [event["event"] for event in events]
    assert names[0] == "on_chain_start"
    assert names[-1] == "on_chain_end"
    streamed = [e["data"]["chunk"] for e in events if e["event"] == "on_chat_model_stream"]
    assert streamed
    assert all(isinstance(chunk, AIMessageChunk) for chunk in streamed)
    assert isinstance(events[-1]["data"]["output"], AIMessage)


def test_remote_composes_in_a_sequence_and_a_parallel(remote: RemoteFactory) -> None:
    chain = RunnableLambda(lambda t: {"topic": t}) | remote("/chat") | StrOutputParser()
    both = RunnableParallel(plus_one=remote("/add_one"), doubled=RunnableLambda(lambda x: 2 * x))

    assert chain.invoke("cats") == JOKE
    assert "".join(chain.stream("cats")) == JOKE
    assert both.invoke(3) == {"plus_one": 4, "doubled": 6}


@pytest.mark.anyio
async def test_remote_composes_in_an_async_stream(aremote: RemoteFactory) -> None:
    chain = RunnableLambda(lambda t: {"topic": t}) | aremote("/chat") | StrOutputParser()

    chunks = [chunk async for chunk in chain.astream("cats")]

    assert len(chunks) > 1
    assert "".join(chunks) == JOKE


def test_remote_with_config_sends_configurable_values(remote: RemoteFactory) -> None:
    configured = remote("/configurable").with_config(configurable={"template": "Yo {name}"})

    assert configured.invoke({"name": "Ann"}) == StringPromptValue(text="Yo Ann")


def test_remote_config_hash_url_keeps_its_values(remote: RemoteFactory) -> None:
    shared = remote(f"/configurable/c/{CONFIG_HASH}")

    assert shared.invoke({"name": "Ann"}) == StringPromptValue(text="Yo Ann")
    # An empty local `configurable` (with_config adds one) does not reset it.
    assert shared.with_config(tags=["x"]).invoke({"name": "Ann"}).text == "Yo Ann"


def test_remote_sends_messages_and_decodes_them_back(remote: RemoteFactory) -> None:
    messages = [HumanMessage(content="hi"), HumanMessage(content="there")]

    reply = remote("/messages").invoke(messages)

    assert reply[:2] == messages
    assert isinstance(reply[2], AIMessage)


def test_remote_leaves_user_dicts_with_a_type_key_alone(remote: RemoteFactory) -> None:
    # Not a message: a message always carries `additional_kwargs` on the wire.
    data = {"type": "human", "content": "hi"}

    assert remote("/echo").invoke(data) == data
    assert type(remote("/echo").invoke(data)) is dict

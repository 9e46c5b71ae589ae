"""Callback events: recorded on the server (EventAggregator), replayed on the client
(EventReplayer)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from langchain_core.documents import Document
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import LLMResult
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableConfig, RunnableLambda

from langserve_like.client.replay import EventReplayer
from langserve_like.exceptions import RemoteRunError
from langserve_like.serialization import WellKnownLCSerializer
from langserve_like.server.callbacks import EventAggregator
from langserve_like.wire import INTERNAL_ERROR


def _boom(x: int) -> int:
    raise ValueError("secret database password in the message")


def _config(aggregator: EventAggregator) -> RunnableConfig:
    return {"callbacks": [aggregator], "metadata": {"__useragent": "ua", "user": "ann"}}


@pytest.mark.anyio
async def test_event_aggregator_records_chain_start_and_end_in_order() -> None:
    aggregator = EventAggregator()
    await RunnableLambda(lambda x: x + 1).ainvoke(1, _config(aggregator))

    types = [event["type"] for event in aggregator.events]
    assert types == ["on_chain_start", "on_chain_end"]
    start, end = aggregator.events
    assert start["inputs"] == 1
    assert end["outputs"] == 2
    assert isinstance(start["run_id"], uuid.UUID)
    assert start["run_id"] == end["run_id"]
    assert start["parent_run_id"] is None
    assert start["kwargs"]["name"] == "RunnableLambda"


@pytest.mark.anyio
async def test_event_aggregator_strips_internal_metadata() -> None:
    aggregator = EventAggregator()
    await RunnableLambda(lambda x: x).ainvoke(1, _config(aggregator))

    assert aggregator.events[0]["metadata"] == {"user": "ann"}


@pytest.mark.anyio
async def test_event_aggregator_hides_exception_text() -> None:
    aggregator = EventAggregator()
    with pytest.raises(ValueError, match="secret"):
        await RunnableLambda(_boom).ainvoke(1, _config(aggregator))

    error = aggregator.events[-1]
    assert error["type"] == "on_chain_error"
    assert error["error"] == {"status_code": 500, "message": "Internal Server Error"}
    assert b"secret" not in WellKnownLCSerializer().dumps(aggregator.events)


@pytest.mark.anyio
async def test_event_aggregator_keeps_llm_result_encodable() -> None:
    model = GenericFakeChatModel(messages=iter([AIMessage(content="hi there")]))
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model
    aggregator = EventAggregator()
    await chain.ainvoke({"q": "hello"}, _config(aggregator))

    types = [event["type"] for event in aggregator.events]
    assert "on_chat_model_start" in types
    llm_end = next(e for e in aggregator.events if e["type"] == "on_llm_end")
    assert isinstance(llm_end["response"], LLMResult)
    encoded = orjson.loads(WellKnownLCSerializer().dumps(aggregator.events))
    assert encoded[-1]["type"] == "on_chain_end"
    children = [e for e in aggregator.events if e["parent_run_id"] is not None]
    assert children, "the prompt and the model are child runs of the chain"


@pytest.mark.anyio
async def test_event_aggregator_records_retriever_events() -> None:
    from langchain_core.retrievers import BaseRetriever

    class Retriever(BaseRetriever):
        def _get_relevant_documents(self, query: str, **kwargs: Any) -> list[Document]:
            return [Document(page_content=f"about {query}")]

    aggregator = EventAggregator()
    await Retriever().ainvoke("llamas", _config(aggregator))

    start, end = aggregator.events
    assert (start["type"], start["query"]) == ("on_retriever_start", "llamas")
    assert end["type"] == "on_retriever_end"
    assert end["documents"] == [Document(page_content="about llamas")]


@pytest.mark.anyio
async def test_event_aggregator_replaces_unencodable_values_by_repr() -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    aggregator = EventAggregator()
    await RunnableLambda(lambda x: Opaque()).ainvoke(1, _config(aggregator))

    assert aggregator.events[-1]["outputs"] == "<opaque>"
    WellKnownLCSerializer().dumps(aggregator.events)


@pytest.mark.anyio
async def test_event_aggregator_reports_each_event_as_it_happens() -> None:
    seen: list[str] = []
    aggregator = EventAggregator(on_event=lambda event: seen.append(event["type"]))
    await RunnableLambda(lambda x: x).ainvoke(1, _config(aggregator))

    assert seen == ["on_chain_start", "on_chain_end"]


# --- client side: EventReplayer ---------------------------------------------------

SERVER_ROOT = "6997cb5f-0000-4000-8000-000000000001"
SERVER_CHILD = "01a20168-0000-7000-8000-000000000002"


def _event(type_: str, run_id: str, parent: str | None, **args: Any) -> dict[str, Any]:
    return {"type": type_, "run_id": run_id, "parent_run_id": parent, "tags": ["t"], **args}


def test_event_replayer_gives_fresh_ids_and_parents_roots_under_the_client_run() -> None:
    client_run = uuid.uuid4()
    replayer = EventReplayer(client_run)

    root = replayer.call(_event("on_chain_start", SERVER_ROOT, None, inputs=1))
    child = replayer.call(_event("on_chain_start", SERVER_CHILD, SERVER_ROOT, inputs=1))
    root_end = replayer.call(_event("on_chain_end", SERVER_ROOT, None, outputs=2))

    assert root is not None
    assert child is not None
    assert root_end is not None
    assert root.kwargs["parent_run_id"] == client_run
    assert child.kwargs["parent_run_id"] == root.kwargs["run_id"]
    assert root_end.kwargs["run_id"] == root.kwargs["run_id"]
    assert str(root.kwargs["run_id"]) not in (SERVER_ROOT, SERVER_CHILD)
    assert root.args == (None, 1)
    assert root_end.args == (2,)


def test_event_replayer_turns_scrubbed_errors_into_remote_run_errors() -> None:
    replayer = EventReplayer(uuid.uuid4())

    call = replayer.call(_event("on_chain_error", SERVER_ROOT, None, error=dict(INTERNAL_ERROR)))

    assert call is not None
    (error,) = call.args
    assert isinstance(error, RemoteRunError)
    assert str(error) == "500: Internal Server Error"


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({"type": "on_future_thing", "run_id": SERVER_ROOT}, id="unknown-type"),
        pytest.param({"type": "on_chain_end", "run_id": "not-a-uuid"}, id="bad-run-id"),
        pytest.param(["not", "a", "dict"], id="not-a-dict"),
    ],
)
def test_event_replayer_skips_events_it_cannot_use(event: Any) -> None:
    assert EventReplayer(uuid.uuid4()).call(event) is None


def test_event_replayer_abort_ends_open_runs_innermost_first() -> None:
    replayer = EventReplayer(uuid.uuid4())
    root = replayer.call(_event("on_chain_start", SERVER_ROOT, None, inputs=1))
    model = replayer.call(_event("on_chat_model_start", SERVER_CHILD, SERVER_ROOT, messages=[]))
    error = RemoteRunError()

    calls = replayer.abort(error)

    assert root is not None
    assert model is not None
    assert [(c.name, c.kwargs["run_id"]) for c in calls] == [
        ("on_llm_error", model.kwargs["run_id"]),
        ("on_chain_error", root.kwargs["run_id"]),
    ]
    assert all(c.args == (error,) for c in calls)
    assert replayer.abort(error) == []

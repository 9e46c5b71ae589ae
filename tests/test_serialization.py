from typing import Any

import orjson
import pytest
from langchain_core.agents import AgentAction, AgentActionMessageLog, AgentFinish
from langchain_core.documents import Document
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    HumanMessageChunk,
    SystemMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, Generation, LLMResult
from langchain_core.prompt_values import ChatPromptValue, ChatPromptValueConcrete, StringPromptValue

from langserve_like.serialization import Serializer, WellKnownLCSerializer

SERIALIZER = WellKnownLCSerializer()
TOOL_CALL = {"name": "search", "args": {"q": "x"}, "id": "call-1", "type": "tool_call"}

WELL_KNOWN = [
    AIMessage(content="hi", tool_calls=[TOOL_CALL], id="m1"),
    AIMessageChunk(content="hi", chunk_position="last"),
    HumanMessage(content="hello", name="ann"),
    HumanMessageChunk(content="hel"),
    SystemMessage(content="be nice"),
    ChatMessage(content="x", role="critic"),
    FunctionMessage(content="42", name="f"),
    ToolMessage(content="42", tool_call_id="call-1", artifact={"raw": 42}),
    Document(page_content="llamas", metadata={"rank": 1}, id="d1"),
    StringPromptValue(text="Hello Ann!"),
    ChatPromptValueConcrete(messages=[HumanMessage(content="x")]),
    AgentAction(tool="t", tool_input={"a": 1}, log="l"),
    AgentFinish(return_values={"output": 1}, log="l"),
    AgentActionMessageLog(
        tool="t", tool_input="x", log="l", message_log=[AIMessage("m", tool_calls=[TOOL_CALL])]
    ),
    Generation(text="g"),
    ChatGeneration(message=AIMessage(content="g")),
    ChatGenerationChunk(message=AIMessageChunk(content="g")),
    LLMResult(generations=[[Generation(text="g")]]),
]


@pytest.mark.parametrize("obj", WELL_KNOWN, ids=lambda o: type(o).__name__)
def test_serializer_round_trips_well_known_objects(obj: Any) -> None:
    decoded = SERIALIZER.loads(SERIALIZER.dumps({"value": [obj]}))["value"][0]
    assert type(decoded) is type(obj)
    assert decoded == obj


def test_serializer_dumps_chat_prompt_value_untagged_like_langserve() -> None:
    # What ChatPromptTemplate returns; LangServe's streams carry it without a `type`.
    value = ChatPromptValue(messages=[HumanMessage(content="x")])
    assert SERIALIZER.dumpd(value) == {"messages": [SERIALIZER.dumpd(HumanMessage(content="x"))]}


def test_serializer_written_for_langserve_needs_only_dumps_and_loadd() -> None:
    class Upper(Serializer):
        def dumps(self, obj: Any) -> bytes:
            return orjson.dumps(obj.upper() if isinstance(obj, str) else obj)

        def loadd(self, obj: Any) -> Any:
            return obj.lower() if isinstance(obj, str) else obj

    serializer = Upper()
    assert serializer.dumpd("hi") == "HI"
    assert serializer.loads(b'"HI"') == "hi"


def test_serializer_keeps_tool_calls_of_nested_messages() -> None:
    log = AgentActionMessageLog(
        tool="t", tool_input="x", log="l", message_log=[AIMessage("m", tool_calls=[TOOL_CALL])]
    )
    assert SERIALIZER.dumpd(log)["message_log"][0]["tool_calls"][0]["name"] == "search"


@pytest.mark.parametrize(
    "data",
    [{"type": "human", "content": "hi"}, {"type": "Document", "page_content": "x"}, {"type": "ai"}],
    ids=["message-like", "document-like", "tag-only"],
)
def test_serializer_leaves_user_dicts_with_a_type_key_alone(data: dict[str, Any]) -> None:
    # LangServe's client turned {"type": "human", "content": "hi"} into a HumanMessage.
    assert SERIALIZER.loadd(data) == data
    assert type(SERIALIZER.loadd(data)) is dict


def test_serializer_decodes_a_chat_prompt_value_to_a_dict_of_messages() -> None:
    # As LangServe's client does: code reading `value["messages"]` keeps working.
    decoded = SERIALIZER.loads(SERIALIZER.dumps(ChatPromptValue(messages=[HumanMessage("x")])))
    assert type(decoded) is dict
    assert decoded["messages"] == [HumanMessage("x")]


def test_serializer_accepts_langchain_js_messages() -> None:
    js = {"content": "hi", "type": "human", "additional_kwargs": {}, "name": None, "example": False}
    decoded = SERIALIZER.loadd(js)
    assert isinstance(decoded, HumanMessage)
    assert decoded.content == "hi"


def test_serializer_encodes_sets_datetimes_and_int_keys() -> None:
    import datetime
    import uuid

    value = {1: {3}, "when": datetime.date(2026, 1, 2), "id": uuid.UUID(int=0)}
    assert SERIALIZER.dumpd(value) == {"1": [3], "when": "2026-01-02", "id": str(uuid.UUID(int=0))}


def test_serializer_rejects_unknown_objects_with_a_clear_type_error() -> None:
    class Opaque:
        pass

    with pytest.raises(TypeError, match="Opaque is not JSON serializable"):
        SERIALIZER.dumps({"x": Opaque()})

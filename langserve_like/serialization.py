"""JSON encoding of what runnables take and return, shared by server and client.

The server encodes with orjson; any pydantic model (every LangChain message,
document, prompt value, agent action and generation is one) becomes its
`model_dump()`, whose `type` field names the class.

The client decodes bottom-up: a dict becomes a LangChain object only when

1. its `type` is one of the tags in `WELL_KNOWN_TYPES`, **and**
2. it carries every key the encoder always writes for that class
   (`REQUIRED_KEYS`: for a message `content`, `type` and `additional_kwargs`), **and**
3. the class validates it.

So user data that merely has a `type` key, like `{"type": "human", "content": "hi"}`,
stays a plain dict (LangServe's client turned it into a `HumanMessage`).
A `ChatPromptValue` (a ChatPromptTemplate's output) is not decoded: it stays the
dict `{"messages": [<messages>]}`, as LangServe's client returns it.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from langchain_core.agents import AgentAction, AgentActionMessageLog, AgentFinish
from langchain_core.documents import Document
from langchain_core.load.serializable import Serializable
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    ChatMessage,
    ChatMessageChunk,
    FunctionMessage,
    FunctionMessageChunk,
    HumanMessage,
    HumanMessageChunk,
    SystemMessage,
    SystemMessageChunk,
    ToolMessage,
    ToolMessageChunk,
)
from langchain_core.outputs import (
    ChatGeneration,
    ChatGenerationChunk,
    Generation,
    LLMResult,
)
from langchain_core.prompt_values import (
    ChatPromptValueConcrete,
    StringPromptValue,
)
from pydantic import BaseModel, ValidationError

__all__ = [
    "REQUIRED_KEYS",
    "WELL_KNOWN_TYPES",
    "Serializer",
    "WellKnownLCSerializer",
    "default_encoder",
]

_MESSAGE_KEYS = frozenset({"content", "type", "additional_kwargs"})

WELL_KNOWN_TYPES: Mapping[str, type[BaseModel]] = {
    "ai": AIMessage,
    "human": HumanMessage,
    "system": SystemMessage,
    "chat": ChatMessage,
    "function": FunctionMessage,
    "tool": ToolMessage,
    "AIMessageChunk": AIMessageChunk,
    "HumanMessageChunk": HumanMessageChunk,
    "SystemMessageChunk": SystemMessageChunk,
    "ChatMessageChunk": ChatMessageChunk,
    "FunctionMessageChunk": FunctionMessageChunk,
    "ToolMessageChunk": ToolMessageChunk,
    "Document": Document,
    "StringPromptValue": StringPromptValue,
    "ChatPromptValueConcrete": ChatPromptValueConcrete,
    "AgentAction": AgentAction,
    "AgentFinish": AgentFinish,
    "AgentActionMessageLog": AgentActionMessageLog,
    "Generation": Generation,
    "ChatGeneration": ChatGeneration,
    "ChatGenerationChunk": ChatGenerationChunk,
    "LLMResult": LLMResult,
}

REQUIRED_KEYS: Mapping[str, frozenset[str]] = {
    **{
        tag: _MESSAGE_KEYS for tag, cls in WELL_KNOWN_TYPES.items() if "content" in cls.model_fields
    },
    "Document": frozenset({"page_content", "metadata", "type"}),
    "StringPromptValue": frozenset({"text", "type"}),
    "ChatPromptValueConcrete": frozenset({"messages", "type"}),
    "AgentAction": frozenset({"tool", "tool_input", "log", "type"}),
    "AgentActionMessageLog": frozenset({"tool", "tool_input", "log", "message_log", "type"}),
    "AgentFinish": frozenset({"return_values", "log", "type"}),
    "Generation": frozenset({"text", "generation_info", "type"}),
    "ChatGeneration": frozenset({"text", "message", "type"}),
    "ChatGenerationChunk": frozenset({"text", "message", "type"}),
    "LLMResult": frozenset({"generations", "llm_output", "type"}),
}

_OPTIONS = orjson.OPT_NON_STR_KEYS


def default_encoder(obj: Any) -> Any:
    """orjson's fallback: pydantic models as their dump, sets as lists."""
    if isinstance(obj, BaseModel):
        # serialize_as_any keeps subclass fields of nested messages (an AIMessage's
        # tool_calls inside an AgentActionMessageLog), which the declared field type
        # (BaseMessage) would drop.
        return obj.model_dump(serialize_as_any=True)
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    raise TypeError(
        f"Object of type {type(obj).__name__} is not JSON serializable; "
        "pass a custom `serializer=` to add_routes to encode it"
    )


def _decode(obj: Any) -> Any:
    if isinstance(obj, list):
        return [_decode(item) for item in obj]
    if not isinstance(obj, dict):
        return obj
    decoded = {key: _decode(value) for key, value in obj.items()}
    tag = decoded.get("type")
    if isinstance(tag, str):
        cls = WELL_KNOWN_TYPES.get(tag)
        if cls is not None and REQUIRED_KEYS[tag] <= decoded.keys():
            try:
                return cls.model_validate(decoded)
            except ValidationError:
                pass
    return decoded


class Serializer(abc.ABC):
    """Turns what runnables produce into JSON bytes and back.

    As in LangServe, a subclass implements `dumps` and `loadd`; `dumpd` and
    `loads` are derived from them (and may be overridden, to skip a round trip).
    """

    @abc.abstractmethod
    def dumps(self, obj: Any) -> bytes:
        """Return `obj` as JSON bytes."""

    @abc.abstractmethod
    def loadd(self, obj: Any) -> Any:
        """Turn a JSON-compatible value back into rich objects."""

    def dumpd(self, obj: Any) -> Any:
        """Return a JSON-compatible Python value for `obj`."""
        return orjson.loads(self.dumps(obj))

    def loads(self, s: bytes | str) -> Any:
        """Parse JSON and turn it back into rich objects."""
        return self.loadd(orjson.loads(s))


class WellKnownLCSerializer(Serializer):
    """The default: orjson plus the well-known LangChain objects (module docstring)."""

    def __init__(self, default: Callable[[Any], Any] = default_encoder) -> None:
        self._default = default
        #: `dumps` without its fallback, a C call: raises `orjson.JSONEncodeError`
        #: where `dumps` would try again, for the server's per-request envelope.
        self.dumps_first = functools.partial(orjson.dumps, default=default)

    def dumps(self, obj: Any) -> bytes:
        # Without OPT_NON_STR_KEYS first: orjson takes a slower path for every dict
        # when it is set (~1,700 instructions more for one stream_events event), and
        # a dict with a key that is not a str is rare. Such a dict fails here and is
        # encoded again with the option, to the same bytes as before.
        try:
            return orjson.dumps(obj, default=self._default)
        except orjson.JSONEncodeError:
            pass
        try:
            return orjson.dumps(obj, default=self._default, option=_OPTIONS)
        except orjson.JSONEncodeError as exc:
            # orjson replaces the default hook's message with its own terse one.
            raise TypeError(str(exc.__cause__ or exc)) from exc

    def loadd(self, obj: Any) -> Any:
        return _decode(obj)

    def loads(self, s: bytes | str) -> Any:
        return _decode(orjson.loads(s))


def is_passthrough_object(obj: Any) -> bool:
    """Objects a runnable receives as they are rather than as plain dicts."""
    from langserve_like.schema import CustomUserType

    return isinstance(obj, (Serializable, CustomUserType))

"""The app the playground browser tests drive (`tests.browser.apps:app`).

Every route uses offline fakes; the chat model streams word by word with a small
delay so the timeline has real durations and time to first token.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, FastAPI
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    AnyMessage,
    BaseMessage,
    HumanMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.prompt_values import PromptValue
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder, PromptTemplate
from langchain_core.runnables import ConfigurableField, RunnableGenerator, RunnableLambda
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from langserve_like import add_routes
from langserve_like.server.models import Feedback

JOKE = "hello world this is a joke"  # 11 streamed tokens: 6 words and 5 spaces
XSS = "</script><img src=x onerror=\"document.title='pwned'\">"


class ScriptedChatModel(BaseChatModel):
    """Replies with `reply`, or echoes the last human message when `echo` is set."""

    reply: str = JOKE
    echo: bool = False
    prefix: str = "You said:"
    delay: float = 0.01

    @property
    def _llm_type(self) -> str:
        return "scripted-fake"

    def _text(self, messages: list[BaseMessage]) -> str:
        if not self.echo:
            return self.reply
        said = [m for m in messages if isinstance(m, HumanMessage)]
        turns = sum(1 for m in messages if m.type in ("human", "ai"))
        return f"{self.prefix} {said[-1].text if said else ''} ({turns} messages)"

    def _usage(self, messages: list[BaseMessage], tokens: int) -> dict[str, int]:
        prompt = sum(len(m.text.split()) for m in messages)
        return {"input_tokens": prompt, "output_tokens": tokens, "total_tokens": prompt + tokens}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = self._text(messages)
        tokens = len([t for t in re.split(r"(\s)", text) if t])
        message = AIMessage(content=text, usage_metadata=self._usage(messages, tokens))  # type: ignore[arg-type]
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        tokens = [t for t in re.split(r"(\s)", self._text(messages)) if t]
        for token in tokens:
            await asyncio.sleep(self.delay)
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=token))
            if run_manager:
                await run_manager.on_llm_new_token(token, chunk=chunk)
            yield chunk
        usage = self._usage(messages, len(tokens))
        yield ChatGenerationChunk(
            message=AIMessageChunk(content="", usage_metadata=usage, chunk_position="last")  # type: ignore[arg-type]
        )


WEATHER_USAGE = UsageMetadata(input_tokens=9, output_tokens=7, total_tokens=16)


class ToolCallingModel(BaseChatModel):
    """Says it will look something up and calls `get_weather` for the prompt's last word.

    Streaming splits the call's JSON arguments over two chunks, as real providers do.
    """

    @property
    def _llm_type(self) -> str:
        return "tool-calling-fake"

    def _city(self, messages: list[BaseMessage]) -> str:
        return messages[-1].text.split()[-1]

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        call = {"name": "get_weather", "args": {"city": self._city(messages)}, "id": "call_1"}
        message = AIMessage(
            content="Let me check.",
            tool_calls=[call],
            usage_metadata=WEATHER_USAGE,
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        args = json.dumps({"city": self._city(messages)})
        half = len(args) // 2
        parts = [
            AIMessageChunk(content="Let me check."),
            AIMessageChunk(
                content="",
                tool_call_chunks=[
                    tool_call_chunk(name="get_weather", args=args[:half], id="call_1", index=0)
                ],
            ),
            AIMessageChunk(
                content="",
                tool_call_chunks=[tool_call_chunk(name=None, args=args[half:], id=None, index=0)],
            ),
            AIMessageChunk(content="", usage_metadata=WEATHER_USAGE, chunk_position="last"),
        ]
        for part in parts:
            yield ChatGenerationChunk(message=part)


def joke_chain(**model: Any) -> Any:
    prompt = ChatPromptTemplate.from_template("tell me a joke about {topic}")
    return prompt | ScriptedChatModel(**model)


def to_text(value: PromptValue) -> str:
    return value.to_string()


def configurable_chain() -> Any:
    prompt = PromptTemplate.from_template("tell me a joke about {topic}").configurable_fields(
        template=ConfigurableField(
            id="template", name="Template", description="The prompt template"
        )
    )
    styled = prompt.configurable_alternatives(
        ConfigurableField(id="style", name="Style", description="Which prompt to use"),
        default_key="polite",
        pirate=PromptTemplate.from_template("arr, a pirate joke about {topic}"),
    )
    return styled | RunnableLambda(to_text)


def find_docs(query: str) -> list[Document]:
    return [
        Document(page_content=f"first doc about {query}", metadata={"rank": 1}),
        Document(page_content=f"second doc about {query}", metadata={"rank": 2}),
    ]


async def fail_midway(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
    async for _ in chunks:
        pass
    yield "partial output"
    raise ValueError(f"deliberate failure {XSS}")


class Address(BaseModel):
    city: str
    zip: str | None = None


class Node(BaseModel):
    name: str
    children: list[Node] = []


class KitchenSink(BaseModel):
    """Every shape the form handles. </script><img src=x onerror=alert(1)>"""

    title: str = Field(description=f"A title {XSS}")
    count: int = 3
    ratio: float | None = None
    flag: bool = False
    color: Literal["red", "green"] = "red"
    either: int | str = 1
    tags: dict[str, int] = {}
    addresses: list[Address] = []
    home: Address | None = None
    tree: Node | None = None


def echo_kitchen(value: dict[str, Any]) -> dict[str, Any]:
    return value


class HtmlInput(BaseModel):
    """Docs with markup: <b>bold?</b> </script><script>document.title='pwned'</script>"""

    text: str = Field(title=f"Text {XSS}", description=f"Description {XSS}")


def markup_output(value: dict[str, Any]) -> str:
    return (
        "# Result\n\n- first item\n- [a link](https://example.com/x)\n\n"
        f"{XSS}\n\nYou typed: {value['text']}"
    )


FILE_KEYS = ("data", "filename", "mime_type")


class FileInput(BaseModel):
    data: str = Field(json_schema_extra={"widget": {"type": "base64file", "max_bytes": 1000}})
    filename: str = ""
    mime_type: str = ""


def describe_file(value: dict[str, Any], keys: tuple[str, str, str] = FILE_KEYS) -> str:
    """`name type size bytes: text` of an upload; `keys` name its data/name/type fields."""
    data, name, mime = keys
    raw = base64.b64decode(value[data])
    return f"{value[name]} {value[mime]} {len(raw)} bytes: {raw.decode()}"


class LangServeStyleFileInput(BaseModel):
    """The widget as LangServe declared it (`Field(extra=...)`), with renamed siblings."""

    # `json_schema_extra={"extra": ...}` emits the same schema as pydantic's deprecated
    # `Field(extra={...})`, without the deprecation warning.
    blob: str = Field(
        json_schema_extra={
            "extra": {
                "widget": {
                    "type": "base64file",
                    "max_bytes": 1000,
                    "filename_field": "name",
                    "mime_type_field": "content_type",
                }
            }
        }
    )
    name: str = ""
    content_type: str = ""


def describe_blob(value: dict[str, Any]) -> str:
    return describe_file(value, ("blob", "name", "content_type"))


class MessagesIn(BaseModel):
    messages: list[AnyMessage]


def count_messages(value: dict[str, Any]) -> dict[str, int]:
    return {"messages": len(value["messages"])}


class OddInput(BaseModel):
    """Shapes the form has no widget for: they must fall back to a JSON editor."""

    payload: Any = None
    mystery: dict[str, Any] = Field(default={}, json_schema_extra={"type": "mystery"})


def echo_odd(value: dict[str, Any]) -> dict[str, Any]:
    return value


def big_output(text: str) -> str:
    return "x" * 5_000_000


received_feedback: list[dict[str, Any]] = []


def free_form(value: dict[str, Any]) -> dict[str, Any]:
    """A free-form dict in (schema `{"type": "object"}`): says which keys it got."""
    return {"keys": sorted(value)}


class Essay(TypedDict):
    topic: str
    draft: str
    final: str


class EssayInput(TypedDict, total=False):
    """The state keys a caller may set; none is required, as the graph needs none."""

    topic: str
    draft: str
    final: str


def write_draft(state: Essay) -> dict[str, str]:
    return {"draft": f"a draft about {state.get('topic') or 'nothing'}"}


def polish(state: Essay) -> dict[str, str]:
    return {"final": state["draft"].upper()}


# Holds the gated graph's second node until a test lets it go, so the test can see the
# first node's update on the page while the run is still streaming.
polish_gate = asyncio.Event()


async def gated_polish(state: Essay) -> dict[str, str]:
    await asyncio.wait_for(polish_gate.wait(), timeout=30)
    polish_gate.clear()
    return polish(state)


def essay_graph(gated: bool = False) -> Any:
    graph = StateGraph(Essay)
    graph.add_node("write", write_draft)
    graph.add_node("polish", gated_polish if gated else polish)
    graph.add_edge(START, "write")
    graph.add_edge("write", "polish")
    graph.add_edge("polish", END)
    # with_types keeps this test independent of how the server derives a graph's
    # input schema: the state keys are optional either way.
    return graph.compile().with_types(input_type=EssayInput)


def record_feedback(feedback: Feedback) -> None:
    received_feedback.append(feedback.model_dump(mode="json", exclude_none=True))


app = FastAPI()
add_routes(app, joke_chain(), path="/joke")
add_routes(app, joke_chain(reply=" ".join(["word"] * 300), delay=0.02), path="/slow")
add_routes(app, joke_chain(), path="/no_events", disabled_endpoints=["stream_events", "batch"])
add_routes(app, configurable_chain(), path="/configurable")
chat_prompt = ChatPromptTemplate.from_messages(
    [("system", "You are a parrot."), MessagesPlaceholder("messages")]
)
parrot = ScriptedChatModel(echo=True).configurable_fields(
    prefix=ConfigurableField(id="prefix", name="Prefix", description="Starts every reply")
)
add_routes(app, chat_prompt | parrot, path="/chat", playground_type="chat")
add_routes(app, RunnableLambda(find_docs), path="/documents")
add_routes(
    app,
    RunnableGenerator(fail_midway).with_types(input_type=str, output_type=str),
    path="/error",
    expose_error_messages=True,
)
add_routes(app, RunnableLambda(echo_kitchen).with_types(input_type=KitchenSink), path="/kitchen")
add_routes(app, RunnableLambda(markup_output).with_types(input_type=HtmlInput), path="/html")
add_routes(app, RunnableLambda(echo_odd).with_types(input_type=OddInput), path="/odd")
add_routes(app, RunnableLambda(big_output).with_types(input_type=str), path="/big")
add_routes(app, joke_chain(reply=" ".join(["tok"] * 2500), delay=0), path="/many_tokens")
add_routes(app, RunnableLambda(describe_file).with_types(input_type=FileInput), path="/file")
add_routes(
    app,
    joke_chain(),
    path="/feedback",
    enable_feedback_endpoint=True,
    feedback_sink=record_feedback,
)

add_routes(app, joke_chain(), path="/no_stream", disabled_endpoints=["stream"])
add_routes(app, RunnableLambda(free_form), path="/free")
add_routes(app, essay_graph(), path="/graph")
add_routes(app, essay_graph(gated=True), path="/graph_gated")
add_routes(
    app,
    RunnableLambda(describe_blob).with_types(input_type=LangServeStyleFileInput),
    path="/file_extra",
)
weather = ChatPromptTemplate.from_template("what is the weather in {city}") | ToolCallingModel()
add_routes(app, weather, path="/tools")

# Chat-shaped routes without playground_type="chat": the page detects them.
history_prompt = ChatPromptTemplate.from_messages(
    [("system", "You are a parrot."), MessagesPlaceholder("history"), ("human", "{question}")]
)
add_routes(app, history_prompt | ScriptedChatModel(echo=True), path="/auto_history")
add_routes(
    app,
    chat_prompt | ScriptedChatModel(echo=True),
    path="/auto_messages",
    disabled_endpoints=["stream"],
)
# Messages in but a dict out is not a conversation: it keeps the form.
add_routes(
    app,
    RunnableLambda(count_messages).with_types(input_type=MessagesIn, output_type=dict[str, int]),
    path="/message_stats",
)

# The same joke route under an APIRouter's own prefix.
routed = APIRouter(prefix="/routed")
add_routes(routed, joke_chain(), path="/joke")
app.include_router(routed)

# A route whose full prefix only exists after two include_router calls (LangServe #578).
inner = APIRouter(prefix="/inner")
add_routes(inner, joke_chain(), path="/joke")
outer = APIRouter(prefix="/outer")
outer.include_router(inner)
app.include_router(outer, prefix="/api")


@app.get("/_test/feedback")
async def feedback_received() -> list[dict[str, Any]]:
    return received_feedback


@app.post("/_test/polish_gate")
async def release_polish() -> None:
    polish_gate.set()

r"""Example 13: playground widgets, a base64 file upload and a chat message list.

Two routes, each with an input model whose fields carry a `widget` in their JSON
schema (`Field(json_schema_extra={"widget": {...}})`), which the playground renders:

* `/file` takes `{"file": <base64>, "filename": str, "num_chars": int}`; the
  `base64file` widget is a file picker that fills `file` (and `filename`). The input
  model subclasses `CustomUserType`, so the runnable gets the model itself, not a
  dict. It answers with the size, line and word counts and the first characters.
  Files travel base64-encoded inside the JSON body; the server caps the body size
  (`max_body_size`, 16 MB by default).
* `/chat` takes `{"messages": [...]}` rendered by the `chat` widget: one box per
  message, and the AI's reply is appended after each run. The model is
  langchain-core's `GenericFakeChatModel` with canned replies.

Run one of:

    python examples/13_widgets.py
    langserve-like serve examples/13_widgets.py:app

Then open http://127.0.0.1:8000/file/playground/ and
http://127.0.0.1:8000/chat/playground/, or:

    curl http://127.0.0.1:8000/file/invoke -H 'Content-Type: application/json' \
      -d "{\"input\": {\"file\": \"$(printf 'hello\nworld\n' | base64)\", \"num_chars\": 5}}"
    curl -N http://127.0.0.1:8000/chat/stream -H 'Content-Type: application/json' \
      -d '{"input": {"messages": [{"type": "human", "content": "hi"}]}}'
"""

from __future__ import annotations

import base64
import binascii
import itertools

from fastapi import FastAPI
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AnyMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import RunnableLambda
from pydantic import BaseModel, Field, field_validator

from langserve_like import CustomUserType, add_routes


class FileRequest(CustomUserType):
    file: str = Field(
        description="The file, base64-encoded",
        json_schema_extra={"widget": {"type": "base64file", "accept": ".txt,.md,.csv,.json"}},
    )
    filename: str = Field(default="", description="The file's name, if known")
    num_chars: int = Field(default=100, ge=0, le=10_000, description="Preview length")

    @field_validator("file")
    @classmethod
    def must_be_base64(cls, value: str) -> str:
        """Checked with the input, so a bad upload is a 422 before anything runs."""
        compact = "".join(value.split())  # `base64` wraps its output in lines
        try:
            base64.b64decode(compact, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"not valid base64: {exc}") from None
        return compact


class FileSummary(BaseModel):
    filename: str
    size_bytes: int
    lines: int
    words: int
    preview: str


def summarize_file(request: FileRequest) -> FileSummary:
    content = base64.b64decode(request.file)
    text = content.decode("utf-8", errors="replace")
    return FileSummary(
        filename=request.filename,
        size_bytes=len(content),
        lines=len(text.splitlines()),
        words=len(text.split()),
        preview=text[: request.num_chars],
    )


class ChatHistory(BaseModel):
    messages: list[AnyMessage] = Field(
        json_schema_extra={"widget": {"type": "chat", "input": "messages"}},
    )


# Strings, not AIMessage objects: the model makes a fresh message from each one.
model = GenericFakeChatModel(
    messages=itertools.cycle(
        ["Hello! I am a fake chat model.", "Every reply I give is canned.", "Still here!"]
    )
)
chat = (ChatPromptTemplate.from_messages([MessagesPlaceholder("messages")]) | model).with_types(
    input_type=ChatHistory
)

app = FastAPI(title="Playground widgets")
add_routes(app, RunnableLambda(summarize_file).with_types(input_type=FileRequest), path="/file")
add_routes(app, chat, path="/chat")

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)

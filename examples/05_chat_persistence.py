r"""Example 5: chat with persistence, keyed by a session id the client sends.

Serves `/chat`: input `{"human_input": str}`, config
`{"configurable": {"session_id": "..."}}`, output the reply as a string.
`RunnableWithMessageHistory` loads the session's earlier messages before the model
runs and appends the new turn afterwards. The history lives in SQLite (standard
library), so it survives a restart: `CHAT_HISTORY_DB` names the file (default
`chat_history.sqlite3` in the current directory). A missing or malformed session id
is the client's mistake: `error_mapper` turns it into a 400 that says so.

Anyone who knows a session id can read and extend that session: for per-user
history, see example 6.

Without an API key the model is langchain-core's `GenericFakeChatModel`, replying
with what it remembers of the session. With `OPENAI_API_KEY` set it is a real model
through `init_chat_model` (`pip install langchain langchain-openai`).

Run one of:

    python examples/05_chat_persistence.py
    langserve-like serve examples/05_chat_persistence.py:app

Then (twice, or restart the server in between):

    curl -N http://127.0.0.1:8000/chat/stream -H 'Content-Type: application/json' \
      -d '{"input": {"human_input": "My name is Ada."},
           "config": {"configurable": {"session_id": "session-1"}}}'
    curl http://127.0.0.1:8000/chat/invoke -H 'Content-Type: application/json' \
      -d '{"input": {"human_input": "What did I say?"},
           "config": {"configurable": {"session_id": "session-1"}}}'
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    message_to_dict,
    messages_from_dict,
)
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables.history import RunnableWithMessageHistory
from pydantic import BaseModel

from langserve_like import add_routes
from langserve_like.exceptions import RunnableFailed

DB_PATH = Path(os.environ.get("CHAT_HISTORY_DB", "chat_history.sqlite3"))


class SQLiteChatHistory(BaseChatMessageHistory):
    """One conversation's messages, one row each, in a SQLite file."""

    def __init__(self, db_path: Path, session_id: str) -> None:
        self.db_path = db_path
        self.session_id = session_id
        with self._db() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS message (id INTEGER PRIMARY KEY AUTOINCREMENT,"
                " session_id TEXT NOT NULL, body TEXT NOT NULL)"
            )

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        # One short connection per operation: requests may run in different threads.
        with contextlib.closing(sqlite3.connect(self.db_path)) as db, db:
            yield db

    @property
    def messages(self) -> list[BaseMessage]:
        with self._db() as db:
            rows = db.execute(
                "SELECT body FROM message WHERE session_id = ? ORDER BY id", (self.session_id,)
            ).fetchall()
        return messages_from_dict([json.loads(body) for (body,) in rows])

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        with self._db() as db:
            db.executemany(
                "INSERT INTO message (session_id, body) VALUES (?, ?)",
                [(self.session_id, json.dumps(message_to_dict(m))) for m in messages],
            )

    def clear(self) -> None:
        with self._db() as db:
            db.execute("DELETE FROM message WHERE session_id = ?", (self.session_id,))


class InvalidSessionId(ValueError):
    pass


def get_session_history(session_id: str) -> SQLiteChatHistory:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", session_id):
        raise InvalidSessionId(session_id)
    return SQLiteChatHistory(DB_PATH, session_id)


def errors_for_clients(exc: BaseException) -> RunnableFailed | None:
    """A bad or missing session id is a 400 that says what to send, not a 500."""
    # RunnableWithMessageHistory raises "Missing keys ['session_id'] ..." without one.
    if isinstance(exc, InvalidSessionId) or str(exc).startswith("Missing keys"):
        return RunnableFailed(
            400, "Send config.configurable.session_id: 1 to 64 letters, digits, '-' or '_'"
        )
    return None


def remembering_reply(messages: list[BaseMessage]) -> str:
    said = [m.text for m in messages if isinstance(m, HumanMessage)]
    if len(said) == 1:
        return f"You said: {said[0]!r}. This is the first message of this session."
    return (
        f"You said: {said[-1]!r}. Before that you said {said[-2]!r}; "
        f"I remember {len(said) - 1} earlier message(s) of this session."
    )


class RememberingFakeModel(GenericFakeChatModel):
    """The fake chat model, replying with what it remembers of the conversation."""

    messages: Iterator[AIMessage | str] = iter(())

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        message = AIMessage(content=remembering_reply(messages))
        return ChatResult(generations=[ChatGeneration(message=message)])


def chat_model() -> BaseChatModel:
    if os.environ.get("OPENAI_API_KEY"):
        from langchain.chat_models import init_chat_model  # pip install langchain

        return init_chat_model(os.environ.get("EXAMPLE_MODEL", "openai:gpt-4o-mini"))
    return RememberingFakeModel()


class ChatInput(BaseModel):
    human_input: str


prompt = ChatPromptTemplate.from_messages(
    [
        ("system", "You are a helpful assistant with a good memory."),
        MessagesPlaceholder("history"),
        ("human", "{human_input}"),
    ]
)
chain = RunnableWithMessageHistory(
    prompt | chat_model() | StrOutputParser(),
    get_session_history,
    input_messages_key="human_input",
    history_messages_key="history",
).with_types(input_type=ChatInput, output_type=str)


app = FastAPI(title="Chat with persistence", description="history in SQLite, by session id")
add_routes(app, chain, path="/chat", error_mapper=errors_for_clients)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)

r"""Example 6: chat history per user and conversation; the user comes from authentication.

Serves `/chat` (input `{"human_input": str}`, config
`{"configurable": {"conversation_id": "..."}}`, output a string) and
`GET /conversations` (the signed-in user's conversation ids).

Users sign in with HTTP Basic (the `USERS` table below stands in for a real user
store; the browser asks for the password, so the playground works too). A
dependency checks the password and puts the user on `request.state`, and
`per_req_config_modifier` copies it into `configurable.user_id`, overriding anything
the client sent. So the history, stored in SQLite (`CHAT_HISTORY_DB`, default
`chat_history_by_user.sqlite3`), is keyed by (user, conversation): Bob cannot read
Alice's conversation even if he guesses its id.

Without an API key the model is langchain-core's `GenericFakeChatModel`, replying
with what it remembers. With `OPENAI_API_KEY` set it is a real model through
`init_chat_model` (`pip install langchain langchain-openai`).

Run one of:

    python examples/06_chat_persistence_user.py
    langserve-like serve examples/06_chat_persistence_user.py:app

Then:

    curl -N -u alice:alice-password http://127.0.0.1:8000/chat/stream \
      -H 'Content-Type: application/json' -d '{"input": {"human_input": "I like tea."},
      "config": {"configurable": {"conversation_id": "drinks"}}}'
    curl -u alice:alice-password http://127.0.0.1:8000/chat/invoke \
      -H 'Content-Type: application/json' -d '{"input": {"human_input": "What do I like?"},
      "config": {"configurable": {"conversation_id": "drinks"}}}'
    curl -u alice:alice-password http://127.0.0.1:8000/conversations
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials
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
from langchain_core.runnables import ConfigurableFieldSpec
from langchain_core.runnables.history import RunnableWithMessageHistory
from pydantic import BaseModel

from langserve_like import add_routes
from langserve_like.exceptions import RunnableFailed

DB_PATH = Path(os.environ.get("CHAT_HISTORY_DB", "chat_history_by_user.sqlite3"))
USERS = {"alice": "alice-password", "bob": "bob-password"}  # use a real user store

# --- authentication ------------------------------------------------------------------

basic = HTTPBasic(realm="chat")


def current_user(
    request: Request, credentials: Annotated[HTTPBasicCredentials, Depends(basic)]
) -> str:
    """Checks the password; the user is kept on request.state for the config modifier."""
    expected = USERS.get(credentials.username, "")
    if not (expected and secrets.compare_digest(credentials.password, expected)):
        raise HTTPException(401, "Wrong user or password", {"WWW-Authenticate": "Basic"})
    request.state.user = credentials.username
    return credentials.username


def add_user_id(config: dict[str, Any], request: Request) -> dict[str, Any]:
    """per_req_config_modifier: the user id comes from authentication, never the client."""
    configurable = {**config.get("configurable", {}), "user_id": request.state.user}
    return {**config, "configurable": configurable}


# --- storage -------------------------------------------------------------------------


@contextlib.contextmanager
def database() -> Iterator[sqlite3.Connection]:
    with contextlib.closing(sqlite3.connect(DB_PATH)) as db, db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS message (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " user_id TEXT NOT NULL, conversation_id TEXT NOT NULL, body TEXT NOT NULL)"
        )
        yield db


class SQLiteChatHistory(BaseChatMessageHistory):
    """The messages of one user's conversation."""

    def __init__(self, user_id: str, conversation_id: str) -> None:
        self.key = (user_id, conversation_id)

    @property
    def messages(self) -> list[BaseMessage]:
        with database() as db:
            rows = db.execute(
                "SELECT body FROM message WHERE user_id = ? AND conversation_id = ? ORDER BY id",
                self.key,
            ).fetchall()
        return messages_from_dict([json.loads(body) for (body,) in rows])

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        with database() as db:
            db.executemany(
                "INSERT INTO message (user_id, conversation_id, body) VALUES (?, ?, ?)",
                [(*self.key, json.dumps(message_to_dict(m))) for m in messages],
            )

    def clear(self) -> None:
        with database() as db:
            db.execute("DELETE FROM message WHERE user_id = ? AND conversation_id = ?", self.key)


class InvalidConversationId(ValueError):
    pass


def get_history(user_id: str, conversation_id: str) -> SQLiteChatHistory:
    if not user_id:  # only possible if the chain is served without add_user_id
        raise PermissionError("no authenticated user")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", conversation_id):
        raise InvalidConversationId(conversation_id)
    return SQLiteChatHistory(user_id, conversation_id)


# --- the chain -----------------------------------------------------------------------


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
        said = [m.text for m in messages if isinstance(m, HumanMessage)]
        reply = f"You said: {said[-1]!r}."
        reply += f" Earlier you said: {said[0]!r}." if len(said) > 1 else " Nice to meet you."
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply))])


def chat_model() -> BaseChatModel:
    if os.environ.get("OPENAI_API_KEY"):
        from langchain.chat_models import init_chat_model  # pip install langchain

        return init_chat_model(os.environ.get("EXAMPLE_MODEL", "openai:gpt-4o-mini"))
    return RememberingFakeModel()


class ChatInput(BaseModel):
    human_input: str


prompt = ChatPromptTemplate.from_messages(
    [
        ("system", "You are a helpful assistant."),
        MessagesPlaceholder("history"),
        ("human", "{human_input}"),
    ]
)
chain = RunnableWithMessageHistory(
    prompt | chat_model() | StrOutputParser(),
    get_history,
    input_messages_key="human_input",
    history_messages_key="history",
    history_factory_config=[
        ConfigurableFieldSpec(
            id="user_id",
            annotation=str,
            name="User ID",
            description="Set by the server from authentication.",
            default="",
            is_shared=True,
        ),
        ConfigurableFieldSpec(
            id="conversation_id",
            annotation=str,
            name="Conversation ID",
            description="Any 1 to 64 letters, digits, '-' or '_'.",
            default="",
            is_shared=True,
        ),
    ],
).with_types(input_type=ChatInput, output_type=str)


def errors_for_clients(exc: BaseException) -> RunnableFailed | None:
    """A bad or missing conversation id is a 400 that says what to send, not a 500."""
    # RunnableWithMessageHistory raises "Missing keys [...]" when one is not sent.
    if isinstance(exc, InvalidConversationId) or str(exc).startswith("Missing keys"):
        return RunnableFailed(
            400, "Send config.configurable.conversation_id: 1 to 64 letters, digits, '-' or '_'"
        )
    return None


app = FastAPI(title="Chat per user", description="history in SQLite, by user and conversation")
add_routes(
    app,
    chain,
    path="/chat",
    dependencies=[Depends(current_user)],
    per_req_config_modifier=add_user_id,
    error_mapper=errors_for_clients,
)


@app.get("/conversations")
def conversations(user: Annotated[str, Depends(current_user)]) -> list[str]:
    with database() as db:
        rows = db.execute(
            "SELECT DISTINCT conversation_id FROM message WHERE user_id = ? ORDER BY 1", (user,)
        ).fetchall()
    return [conversation_id for (conversation_id,) in rows]


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)

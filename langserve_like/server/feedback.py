"""Feedback and public trace links: off unless asked for, with a pluggable sink.

`POST {path}/feedback` is mounted with `enable_feedback_endpoint=True`. It hands the
feedback to `feedback_sink` (any callable, sync or async, that takes a
`server.models.Feedback`) when one is given, otherwise to LangSmith when tracing to
LangSmith is configured, otherwise it answers 400 (and `HEAD` says the same: LangServe's
HEAD answered 200 exactly when feedback was *off*).

`POST {path}/token_feedback` is mounted only with a `token_feedback_config` (LangServe
mounted it on every route), and accepts several keys (LangServe took one).
`PUT {path}/public_trace_link` needs LangSmith and an explicit opt-in; it makes a
run's whole trace public, so protect it with `dependencies`.
`RouteOptions` decides which of them a route serves.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypedDict

import anyio.to_thread
from pydantic import BaseModel, ConfigDict

from langserve_like.exceptions import RequestError
from langserve_like.server.models import Feedback

__all__ = [
    "FeedbackService",
    "FeedbackSink",
    "TokenFeedback",
    "TokenFeedbackConfig",
    "TraceLinkRequest",
]

FeedbackSink = Callable[[Feedback], "Awaitable[Any] | Any"]


class FeedbackKeyConfig(TypedDict):
    key: str


class TokenFeedbackConfig(TypedDict):
    key_configs: list[FeedbackKeyConfig]


class TokenFeedback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token_or_url: str
    score: float | bool | None = None
    value: float | bool | str | dict[str, Any] | None = None
    comment: str | None = None
    correction: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class TraceLinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run_id: uuid.UUID


_NO_FEEDBACK = (
    "The feedback endpoint is only accessible when a feedback sink is configured "
    "(add_routes(..., feedback_sink=...)) or LangSmith tracing is enabled on the server."
)


def _langsmith_client() -> Any | None:
    """A LangSmith client when tracing to LangSmith is configured, else None."""
    try:
        from langsmith import Client, utils
    except ImportError:  # pragma: no cover - langsmith ships with langchain-core
        return None
    if not utils.tracing_is_enabled():
        return None
    return Client()


class FeedbackService:
    def __init__(
        self,
        *,
        sink: FeedbackSink | None,
        token_config: TokenFeedbackConfig | None,
    ) -> None:
        self.sink = sink
        self.token_config = token_config
        self._langsmith: Any | None = None
        self._langsmith_checked = False

    @property
    def langsmith(self) -> Any | None:
        if not self._langsmith_checked:
            self._langsmith = _langsmith_client()
            self._langsmith_checked = True
        return self._langsmith

    @property
    def available(self) -> bool:
        return self.sink is not None or self.langsmith is not None

    def require_available(self) -> None:
        if not self.available:
            raise RequestError(400, _NO_FEEDBACK)

    def require_langsmith(self, feature: str) -> Any:
        client = self.langsmith
        if client is None:
            raise RequestError(
                400,
                f"The {feature} endpoint is only accessible when LangSmith tracing is enabled.",
            )
        return client

    async def create(self, feedback: Feedback) -> dict[str, Any]:
        self.require_available()
        if self.sink is not None:
            result = self.sink(feedback)
            if inspect.isawaitable(result):
                await result
            return feedback.model_dump()
        client = self.require_langsmith("feedback")
        created = await anyio.to_thread.run_sync(
            lambda: client.create_feedback(
                feedback.run_id,
                feedback.key,
                score=feedback.score,
                value=feedback.value,
                comment=feedback.comment,
                source_info={"from_langserve": True},
            )
        )
        return (
            dict(created.model_dump(mode="json"))
            if hasattr(created, "model_dump")
            else dict(created)
        )

    async def tokens(self, run_id: Any) -> list[dict[str, Any]]:
        if self.token_config is None or self.langsmith is None:
            return []
        client = self.langsmith
        tokens = []
        for key_config in self.token_config["key_configs"]:
            token = await anyio.to_thread.run_sync(
                client.create_presigned_feedback_token, run_id, key_config["key"]
            )
            tokens.append(
                {
                    "key": key_config["key"],
                    "token_url": token.url,
                    "expires_at": token.expires_at.isoformat(),
                }
            )
        return tokens

    async def create_from_token(self, body: TokenFeedback) -> None:
        client = self.require_langsmith("token feedback")
        metadata = {**(body.metadata or {}), "from_langserve": True}
        await anyio.to_thread.run_sync(
            lambda: client.create_feedback_from_token(
                body.token_or_url,
                score=body.score,
                value=body.value,
                comment=body.comment,
                correction=body.correction,
                metadata=metadata,
            )
        )

    async def share_run(self, run_id: uuid.UUID) -> str:
        client = self.require_langsmith("public trace link")
        return str(await anyio.to_thread.run_sync(lambda: client.share_run(run_id)))

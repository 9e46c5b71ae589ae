"""The pydantic models of one route's bodies and answers, for `/openapi.json` and `/docs`.

Requests are not parsed with them (see `server.requests`): they only describe the
same bodies, named `<namespace>InvokeRequest`, ... so two routes never collide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from langserve_like.wire import STREAM_FILTERS

__all__ = ["ErrorResponse", "Feedback", "FieldError", "RequestModels", "create_request_models"]


class FieldError(BaseModel):
    """One of pydantic's error items, as LangServe sent them."""

    type: str
    loc: list[str | int]
    msg: str
    input: Any = None
    ctx: dict[str, Any] | None = None
    url: str | None = None


class ErrorResponse(BaseModel):
    """Every error answer: `detail` names the problem, as a message or field by field."""

    detail: str | list[FieldError | str]
    run_id: str | None = Field(default=None, description="Only when a run failed")


class IgnoredKwargs(BaseModel):
    """`kwargs` as LangServe's clients send it (`{}`, or LangChain.js's `version`);
    what a `strict=True` route accepts (others accept and ignore anything)."""

    model_config = ConfigDict(extra="forbid")
    version: Any = None


_IGNORED = Field(default=None, description="Accepted and ignored, as by LangServe")


class RunMetadata(BaseModel):
    run_id: str
    feedback_tokens: list[dict[str, Any]] = Field(default_factory=list)


class BatchMetadata(BaseModel):
    responses: list[RunMetadata]
    run_ids: list[str]


class Feedback(BaseModel):
    """What `POST {path}/feedback` accepts, and what a feedback sink receives."""

    model_config = ConfigDict(extra="forbid")
    run_id: str
    key: str = Field(min_length=1, max_length=256)
    score: float | bool | None = None
    value: float | bool | str | dict[str, Any] | None = None
    comment: str | None = Field(default=None, max_length=10_000)


@dataclass(frozen=True)
class RequestModels:
    """The request and response models of one route, for the docs only."""

    invoke_request: type[BaseModel]
    batch_request: type[BaseModel]
    stream_request: type[BaseModel]
    stream_log_request: type[BaseModel]
    stream_events_request: type[BaseModel]
    invoke_response: type[BaseModel]
    batch_response: type[BaseModel]


def _optional(description: str | None = None) -> Any:
    """A field that may be left out but is never null; the schema shows no default."""
    return Field(
        default=None,
        description=description,
        json_schema_extra=lambda schema: schema.pop("default", None),
    )


_OPTIONAL = _optional()


def create_request_models(
    namespace: str,
    input_model: type[BaseModel],
    output_model: type[BaseModel],
    config_model: type[BaseModel],
    max_batch_size: int,
    strict: bool = False,
) -> RequestModels:
    """Models named `<namespace>InvokeRequest`, … so two routes never collide.

    Unknown keys are allowed (and ignored) unless the route is `strict`."""
    forbid = ConfigDict(extra="forbid" if strict else "ignore")
    kwargs: Any = (IgnoredKwargs | None, None) if strict else (Any, _IGNORED)
    common: dict[str, Any] = {
        # Optional but not nullable: `config: null` is a 422 (LangServe answered 500).
        "config": (config_model, _OPTIONAL),
        "kwargs": kwargs,
    }
    invoke = create_model(
        f"{namespace}InvokeRequest",
        __config__=forbid,
        input=(input_model, ...),
        **common,
    )
    stream = create_model(
        f"{namespace}StreamRequest",
        __config__=forbid,
        input=(input_model, ...),
        callback_events=(bool, False),
        **common,
    )
    filters: dict[str, Any] = {name: (list[str] | None, None) for name in STREAM_FILTERS}
    filters["diff"] = filters["version"] = (Any, _IGNORED)
    stream_log = create_model(f"{namespace}StreamLogRequest", __base__=stream, **filters)
    stream_events = create_model(f"{namespace}StreamEventsRequest", __base__=stream, **filters)
    batch_config: Any = config_model | list[config_model]  # type: ignore[valid-type]
    batch = create_model(
        f"{namespace}BatchRequest",
        __config__=forbid,
        inputs=(list[input_model], Field(max_length=max_batch_size)),  # type: ignore[valid-type]
        config=(
            batch_config,
            _optional("One config for all inputs, or one per input"),
        ),
        kwargs=(IgnoredKwargs | list[IgnoredKwargs | None] | None, None) if strict else kwargs,
    )
    return RequestModels(
        invoke, batch, stream, stream_log, stream_events, *_responses(namespace, output_model)
    )


def _responses(
    namespace: str, output_model: type[BaseModel]
) -> tuple[type[BaseModel], type[BaseModel]]:
    """The invoke and batch answers."""
    invoke_response = create_model(
        f"{namespace}InvokeResponse",
        output=(output_model, ...),
        metadata=(RunMetadata, ...),
        callback_events=(list[dict[str, Any]] | None, None),
    )
    batch_response = create_model(
        f"{namespace}BatchResponse",
        output=(list[output_model], ...),  # type: ignore[valid-type]
        metadata=(BatchMetadata, ...),
        callback_events=(list[list[dict[str, Any]]] | None, None),
    )
    return invoke_response, batch_response

"""The wire protocol: endpoint names, SSE event names, request bodies.

A body's shape (an object with `input`, a `config` object, list-of-strings stream
filters) is checked by small pydantic models, so a bad body gets pydantic's own
error items (`type`, `loc`, `msg`, `input`, `ctx`, `url`) exactly as LangServe's
clients and tests expect them. Keys a route does not know are ignored, as
LangServe ignored them; `strict=True` routes refuse them instead. The pydantic
models built by `create_request_models` describe the same bodies for `/openapi.json`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from langserve_like.exceptions import PayloadTooLarge, RequestError

__all__ = [
    "CALLBACK",
    "DATA",
    "END",
    "ERROR",
    "KNOWN_ENDPOINTS",
    "METADATA",
    "STREAM_FILTERS",
    "BatchBody",
    "EndpointName",
    "ErrorResponse",
    "InvokeBody",
    "RequestModels",
    "create_request_models",
    "field_error",
    "parse_batch_body",
    "parse_invoke_body",
    "parse_json",
    "validation_errors",
]

EndpointName = Literal[
    "invoke",
    "batch",
    "stream",
    "stream_log",
    "stream_events",
    "input_schema",
    "output_schema",
    "config_schema",
    "playground",
    "config_hashes",
    "feedback",
    "token_feedback",
    "public_trace_link",
]
KNOWN_ENDPOINTS: frozenset[str] = frozenset(get_args(EndpointName))

# SSE event names. `callback` is ours: sent only to clients that ask for it.
METADATA, DATA, ERROR, END, CALLBACK = "metadata", "data", "error", "end", "callback"

STREAM_FILTERS = (
    "include_names",
    "include_types",
    "include_tags",
    "exclude_names",
    "exclude_types",
    "exclude_tags",
)
_JSON_CONTENT_TYPES = (
    "application/json",
    "application/x-www-form-urlencoded",
    "text/plain",
)
_INVALID_JSON = RequestError(422, ["Invalid JSON body"])


def field_error(loc: tuple[str | int, ...], msg: str, kind: str = "value_error") -> dict[str, Any]:
    return {"type": kind, "loc": list(loc), "msg": msg}


def _reject(loc: tuple[str | int, ...], msg: str, kind: str = "value_error") -> RequestError:
    return RequestError(422, [field_error(loc, msg, kind)])


def validation_errors(exc: ValidationError, loc: tuple[str | int, ...] = ()) -> list[Any]:
    """pydantic's own error items, as LangServe answered them, under `loc`."""
    errors: list[Any] = exc.errors()
    for error in errors:
        if loc:
            error["loc"] = (*loc, *error["loc"])
        ctx = error.get("ctx")
        if ctx:  # a `ctx` may hold the exception a validator raised: send its text
            error["ctx"] = {
                k: v if isinstance(v, _JSON_SCALARS) else str(v) for k, v in ctx.items()
            }
    return errors


_JSON_SCALARS = (str, int, float, bool, type(None))


def check_content_type(content_type: str | None) -> None:
    """Accept JSON, and the types curl -d and fetch send by default; refuse the rest."""
    if not content_type:
        return
    media = content_type.split(";", 1)[0].strip().lower()
    if media in _JSON_CONTENT_TYPES or media.endswith("+json"):
        return
    raise RequestError(415, f"Unsupported Content-Type {media!r}: send application/json")


def parse_json(body: bytes, max_size: int) -> Any:
    if len(body) > max_size:
        raise PayloadTooLarge(max_size)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RequestError(422, _INVALID_JSON.detail) from None


# The body models. Their class names appear in pydantic's message for a body that
# is not an object ("... instance of InvokeRequestShallowValidator"), which
# LangServe's users may match on, so they keep LangServe's names. `config: null`
# is a 422 here (LangServe crashed with a 500).
_Filter = Sequence[str] | None


class InvokeRequestShallowValidator(BaseModel):
    input: Any
    config: dict[str, Any] = Field(default_factory=dict)
    kwargs: Any = None
    # Ours: a langserve_like client asks for callback events on streams.
    callback_events: bool = False


class StreamLogRequestShallowValidator(InvokeRequestShallowValidator):
    include_names: _Filter = None
    include_types: _Filter = None
    include_tags: _Filter = None
    exclude_names: _Filter = None
    exclude_types: _Filter = None
    exclude_tags: _Filter = None
    # Sent by LangServe's clients (LangChain.js also as `kwargs.version`); the
    # event schema is fixed server-side by `astream_events_version`, as it was.
    diff: Any = None
    version: Any = None


class BatchRequestShallowValidator(BaseModel):
    inputs: list[Any]
    config: dict[str, Any] | list[dict[str, Any]] | None = None
    kwargs: Any = None


def _strict(model: type[BaseModel]) -> type[BaseModel]:
    """The same body model refusing unknown keys, for `strict=True` routes."""
    namespace = {"model_config": ConfigDict(extra="forbid"), "__module__": __name__}
    return type(model.__name__, (model,), namespace)


_BODY_MODELS: dict[str, type[BaseModel]] = {
    "invoke": InvokeRequestShallowValidator,
    "stream": InvokeRequestShallowValidator,
    "stream_log": StreamLogRequestShallowValidator,
    "stream_events": StreamLogRequestShallowValidator,
    "batch": BatchRequestShallowValidator,
}
_STRICT_BODY_MODELS = {name: _strict(model) for name, model in _BODY_MODELS.items()}


def _validate(body: Any, endpoint: str, strict: bool) -> Any:
    try:
        model = (_STRICT_BODY_MODELS if strict else _BODY_MODELS)[endpoint]
        return model.__pydantic_validator__.validate_python(body)
    except ValidationError as exc:
        raise RequestError(422, validation_errors(exc)) from None


# LangChain.js streamEvents always sends `kwargs: {"version": "v1"|"v2"}`.
_IGNORED_KWARGS = frozenset({"version"})


def _check_kwargs(kwargs: Any, *, batch: bool = False) -> None:
    """strict=True only: `kwargs` other than what the clients send by default
    would be ignored, so say so instead."""
    items = kwargs if batch and isinstance(kwargs, list) else [kwargs]
    if all(
        item is None or (isinstance(item, dict) and item.keys() <= _IGNORED_KWARGS)
        for item in items
    ):
        return
    raise _reject(("kwargs",), "kwargs are not supported; pass options in `config`")


@dataclass(frozen=True, slots=True)
class InvokeBody:
    input: Any
    config: dict[str, Any] | None
    callback_events: bool = False
    filters: dict[str, list[str] | None] | None = None


@dataclass(frozen=True, slots=True)
class BatchBody:
    inputs: list[Any]
    config: dict[str, Any] | list[dict[str, Any]] | None


def parse_invoke_body(body: Any, endpoint: str, strict: bool = False) -> InvokeBody:
    """Check the body of invoke, stream, stream_log and stream_events."""
    model = _validate(body, endpoint, strict)
    if strict:
        _check_kwargs(model.kwargs)
    filters = None
    if endpoint in ("stream_log", "stream_events"):
        filters = {
            name: None if (value := getattr(model, name)) is None else list(value)
            for name in STREAM_FILTERS
        }
    return InvokeBody(model.input, model.config, model.callback_events, filters)


def parse_batch_body(body: Any, max_batch_size: int, strict: bool = False) -> BatchBody:
    if isinstance(body, dict) and "config" in body and body["config"] is None:
        raise RequestError(422, "Value for 'config' key must be a dict or list if provided")
    model = _validate(body, "batch", strict)
    if strict:
        _check_kwargs(model.kwargs, batch=True)
    inputs, config = model.inputs, model.config
    if len(inputs) > max_batch_size:
        raise _reject(
            ("inputs",),
            f"Batch has {len(inputs)} inputs; the limit is {max_batch_size}",
            "too_long",
        )
    if isinstance(config, list) and len(config) != len(inputs):
        raise RequestError(
            422,
            f"Number of configs ({len(config)}) must match number of inputs ({len(inputs)})",
        )
    return BatchBody(inputs, config)


# --- models for the OpenAPI document -------------------------------------------------


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
    return RequestModels(
        invoke,
        batch,
        stream,
        stream_log,
        stream_events,
        invoke_response,
        batch_response,
    )

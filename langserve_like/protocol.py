"""The wire protocol: endpoint names, SSE event names, request bodies.

Request bodies are checked by hand rather than through a pydantic model on every
request: the checks are few, the errors must name the offending field in
LangServe's shape (`{"detail": [{"type", "loc", "msg"}]}`), and this is the hot
path. The pydantic models built by `create_request_models` describe the same
bodies for `/openapi.json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

import orjson
from pydantic import BaseModel, ConfigDict, Field, create_model

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
_INVOKE_KEYS = frozenset({"input", "config", "kwargs"})
_STREAM_KEYS = _INVOKE_KEYS | {"callback_events"}
# `diff` and `version` are sent by LangServe's clients and have no effect.
_STREAM_LOG_KEYS = _STREAM_KEYS | {"diff", "version", *STREAM_FILTERS}
_ALLOWED_KEYS = {
    "invoke": _INVOKE_KEYS,
    "stream": _STREAM_KEYS,
    "stream_log": _STREAM_LOG_KEYS,
    "stream_events": _STREAM_LOG_KEYS,
}
_JSON_CONTENT_TYPES = (
    "application/json",
    "application/x-www-form-urlencoded",
    "text/plain",
)


def field_error(loc: tuple[str | int, ...], msg: str, kind: str = "value_error") -> dict[str, Any]:
    return {"type": kind, "loc": list(loc), "msg": msg}


def _reject(loc: tuple[str | int, ...], msg: str, kind: str = "value_error") -> RequestError:
    return RequestError(422, [field_error(loc, msg, kind)])


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
    if not body:
        raise _reject(("body",), "Request body is empty: send a JSON object", "json_invalid")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _reject(("body",), f"Invalid JSON body: {exc}", "json_invalid") from None


def _check_object(body: Any, allowed: frozenset[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _reject((), "Request body must be a JSON object", "model_type")
    unknown = body.keys() - allowed
    if unknown:
        key = sorted(unknown)[0]
        raise _reject((key,), f"Unknown field {key!r}", "extra_forbidden")
    return body


# LangChain.js streamEvents always sends `{"version": "v1"|"v2"}`; the event
# schema is fixed server-side (`astream_events_version`), as it was in LangServe.
_IGNORED_KWARGS = frozenset({"version"})


def _check_kwargs(body: dict[str, Any], *, batch: bool = False) -> None:
    # LangServe accepted and silently ignored `kwargs`; clients send `{}` (or a
    # list of them from LangChain.js batch). Anything else would be ignored,
    # so say so instead.
    kwargs = body.get("kwargs")
    items = kwargs if batch and isinstance(kwargs, list) else [kwargs]
    if all(
        item is None or (isinstance(item, dict) and item.keys() <= _IGNORED_KWARGS)
        for item in items
    ):
        return
    raise _reject(("kwargs",), "kwargs are not supported; pass options in `config`")


def _check_config(value: Any, loc: tuple[str | int, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _reject(loc, "config must be a JSON object", "dict_type")
    return value


def _check_filter(body: dict[str, Any], name: str) -> list[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _reject((name,), f"{name} must be a list of strings or null", "list_type")
    return value


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


def parse_invoke_body(body: Any, endpoint: str) -> InvokeBody:
    """Check the body of invoke, stream, stream_log and stream_events."""
    body = _check_object(body, _ALLOWED_KEYS[endpoint])
    if "input" not in body:
        raise _reject(("input",), "Field required", "missing")
    config = body.get("config")
    if "config" in body:
        config = _check_config(config, ("config",))
    _check_kwargs(body)
    callback_events = body.get("callback_events", False)
    if not isinstance(callback_events, bool):
        raise _reject(("callback_events",), "callback_events must be a boolean", "bool_type")
    filters = None
    if endpoint in ("stream_log", "stream_events"):
        filters = {name: _check_filter(body, name) for name in STREAM_FILTERS}
        if body.get("diff") is not None and not isinstance(body["diff"], bool):
            raise _reject(("diff",), "diff must be a boolean or null", "bool_type")
    return InvokeBody(body["input"], config, callback_events, filters)


def parse_batch_body(body: Any, max_batch_size: int) -> BatchBody:
    body = _check_object(body, _INVOKE_KEYS - {"input"} | {"inputs"})
    inputs = body.get("inputs")
    if "inputs" not in body:
        raise _reject(("inputs",), "Field required", "missing")
    if not isinstance(inputs, list):
        raise _reject(("inputs",), "inputs must be a JSON array", "list_type")
    if len(inputs) > max_batch_size:
        raise _reject(
            ("inputs",),
            f"Batch has {len(inputs)} inputs; the limit is {max_batch_size}",
            "too_long",
        )
    config = body.get("config")
    if isinstance(config, list):
        if len(config) != len(inputs):
            raise RequestError(
                422,
                f"Number of configs ({len(config)}) must match number of inputs ({len(inputs)})",
            )
        config = [_check_config(item, ("config", i)) for i, item in enumerate(config)]
    elif "config" in body and not isinstance(config, dict):
        raise RequestError(422, "Value for 'config' key must be a dict or list if provided")
    _check_kwargs(body, batch=True)
    return BatchBody(inputs, config)


# --- models for the OpenAPI document -------------------------------------------------


class FieldError(BaseModel):
    type: str
    loc: list[str | int]
    msg: str


class ErrorResponse(BaseModel):
    """Every error answer: `detail` names the problem, as a message or field by field."""

    detail: str | list[FieldError]
    run_id: str | None = Field(default=None, description="Only when a run failed")


class IgnoredKwargs(BaseModel):
    """`kwargs` as LangServe's clients send it (`{}`, or LangChain.js's `version`); ignored."""

    model_config = ConfigDict(extra="forbid")
    version: Any = None


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
) -> RequestModels:
    """Models named `<namespace>InvokeRequest`, … so two routes never collide."""
    forbid = ConfigDict(extra="forbid")
    common: dict[str, Any] = {
        # Optional but not nullable: `config: null` is a 422 (LangServe answered 500).
        "config": (config_model, _OPTIONAL),
        "kwargs": (IgnoredKwargs | None, None),
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
    filters["diff"] = (bool | None, None)
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
        kwargs=(IgnoredKwargs | list[IgnoredKwargs | None] | None, None),
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

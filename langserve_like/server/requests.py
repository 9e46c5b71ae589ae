"""Parsing the request bodies of invoke, batch and the three streams (server only).

A body's shape (an object with `input`, a `config` object, list-of-strings stream
filters) is checked by small pydantic models, so a bad body gets pydantic's own
error items (`type`, `loc`, `msg`, `input`, `ctx`, `url`) exactly as LangServe's
clients and tests expect them. Keys a route does not know are ignored, as
LangServe ignored them; `strict=True` routes refuse them instead. The models of
`server.models` describe the same bodies for `/openapi.json`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request

from langserve_like.exceptions import ClientDisconnected, PayloadTooLarge, RequestError
from langserve_like.wire import STREAM_FILTERS, field_error, validation_errors

__all__ = [
    "BatchBody",
    "InvokeBody",
    "check_content_type",
    "parse_batch_body",
    "parse_invoke_body",
    "parse_json",
    "read_body",
]

_JSON_CONTENT_TYPES = (
    "application/json",
    "application/x-www-form-urlencoded",
    "text/plain",
)
_INVALID_JSON = RequestError(422, ["Invalid JSON body"])


def _reject(loc: tuple[str | int, ...], msg: str, kind: str = "value_error") -> RequestError:
    return RequestError(422, [field_error(loc, msg, kind)])


async def read_body(request: Request, max_body_size: int) -> Any:
    """The request's JSON body, refused early when its type or size is wrong."""
    # The raw ASGI headers and messages rather than `request.headers` and
    # `request.stream()`: a Headers object and an async generator per request cost
    # more than the rest of reading a small body.
    content_type = length = None
    for name, value in request.scope["headers"]:
        if name == b"content-type" and content_type is None:
            content_type = value
        elif name == b"content-length" and length is None:
            length = value
    if content_type is not None and content_type != b"application/json":
        check_content_type(content_type.decode("latin-1"))  # what clients send is let by
    if length is not None and length.isdigit() and int(length) > max_body_size:
        raise PayloadTooLarge(max_body_size)
    receive = request._receive  # Starlette's attribute (tests/test_framework.py): no property call
    body = b""
    more_body = True
    while more_body:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        body += message.get("body", b"")
        more_body = message.get("more_body", False)
        if len(body) > max_body_size:
            raise PayloadTooLarge(max_body_size)
    # Where `Request.body()` caches the body (Starlette's own attribute, checked by
    # tests/test_framework.py), so that a per_req_config_modifier can still read it.
    request._body = body
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RequestError(422, _INVALID_JSON.detail) from None


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


# Named tuples rather than frozen dataclasses: built once per request, and a frozen
# dataclass sets each field through `object.__setattr__` (~1,000 instructions more).
class InvokeBody(NamedTuple):
    input: Any
    config: dict[str, Any] | None
    callback_events: bool = False
    filters: dict[str, list[str] | None] | None = None


# A named tuple's own `__new__` is a Python function; the fast path skips it.
_new_tuple = tuple.__new__


class BatchBody(NamedTuple):
    inputs: list[Any]
    config: dict[str, Any] | list[dict[str, Any]] | None


# The bodies LangServe's clients send most ({"input": ..., "config": {...}}) are
# taken as they are: the body model would give the same values, and running it
# costs more than the rest of parsing. Anything else goes through the model,
# whose error items a bad body needs.
# The endpoints whose plain body has no other fields to read (no stream filters).
_PLAIN_ENDPOINTS = frozenset({"invoke", "stream"})
_PLAIN_BATCH_KEYS = frozenset({"inputs", "config"})


def _plain_config(config: Any) -> bool:
    return type(config) is dict


def parse_invoke_body(body: Any, endpoint: str, strict: bool = False) -> InvokeBody:
    """Check the body of invoke, stream, stream_log and stream_events."""
    # The usual body, `{"input": ...}` with at most a plain `config`, needs no model:
    # two length checks rather than a keys view compared with a set.
    if type(body) is dict and endpoint in _PLAIN_ENDPOINTS and "input" in body:
        size = len(body)
        if size == 1:
            return _new_tuple(InvokeBody, (body["input"], {}, False, None))
        if size == 2 and type(config := body.get("config")) is dict:
            return _new_tuple(InvokeBody, (body["input"], config, False, None))
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


def _plain_batch(body: Any) -> BatchBody | None:
    if type(body) is not dict or not body.keys() <= _PLAIN_BATCH_KEYS:
        return None
    inputs, config = body.get("inputs"), body.get("config")
    if type(inputs) is not list:
        return None
    if config is None or _plain_config(config):
        return BatchBody(inputs, config)
    if type(config) is list and all(map(_plain_config, config)):
        return BatchBody(inputs, config)
    return None


def parse_batch_body(body: Any, max_batch_size: int, strict: bool = False) -> BatchBody:
    if isinstance(body, dict) and "config" in body and body["config"] is None:
        raise RequestError(422, "Value for 'config' key must be a dict or list if provided")
    plain = _plain_batch(body)
    if plain is not None:
        inputs, config = plain.inputs, plain.config
    else:
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

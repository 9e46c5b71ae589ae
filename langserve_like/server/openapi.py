"""What /openapi.json says beyond FastAPI's defaults.

`add_routes` serves every endpoint of a runnable through one route that reads the
request itself, so FastAPI cannot see them; each endpoint gets a `DocsOnlyRoute`
(with the typed request model for POST), which documents it and never matches a
request. The response documentation below
lists the error answers and describes each Server-Sent Event.
"""

# No `from __future__ import annotations`: FastAPI reads the annotations of the
# documentation endpoints built below at runtime.

from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

from langserve_like.server.models import ErrorResponse
from langserve_like.wire import CALLBACK, DATA, ERROR, METADATA

# Looking up an enum member costs ~10 times a global's lookup on Python 3.11, and
# every request asks each route in turn, docs-only ones included.
_NO_MATCH = Match.NONE

__all__ = [
    "BODY_ERRORS",
    "HASH_ERRORS",
    "SCHEMA_ERRORS",
    "SSE_RESPONSES",
    "DocsOnlyRoute",
    "docs_endpoint",
]


def _json_text(content_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "string",
        "contentMediaType": "application/json",
        "contentSchema": content_schema,
    }


def _event(name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["event", "data"],
        "properties": {"event": {"const": name}, "data": _json_text(data)},
    }


# One Server-Sent Event as {"event", "data"} (OpenAPI 3.1 has `schema` describe each
# event of a stream). `end` has no data line, so it is not an event a parser reports.
SSE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: metadata, data*, then end or error",
        "content": {
            "text/event-stream": {
                "schema": {
                    "oneOf": [
                        _event(
                            METADATA,
                            {
                                "type": "object",
                                "required": ["run_id"],
                                "properties": {"run_id": {"type": "string"}},
                            },
                        ),
                        _event(DATA, {}),
                        _event(CALLBACK, {"type": "object"}),
                        _event(
                            ERROR,
                            {
                                "type": "object",
                                "required": ["status_code", "message"],
                                "properties": {
                                    "status_code": {"type": "integer"},
                                    "message": {"type": "string"},
                                    "run_id": {"type": "string"},
                                },
                            },
                        ),
                    ]
                }
            }
        },
    }
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "model": ErrorResponse}


# What the endpoints answer besides 200. An `error_mapper` may add statuses of its own.
BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    413: _error("The body is larger than `max_body_size`"),
    415: _error("The body is not JSON"),
    422: _error("The body, its input or its config is invalid; `detail` names the field"),
    500: _error("The runnable failed; the message is hidden unless the app exposes it"),
}
SCHEMA_ERRORS: dict[int | str, dict[str, Any]] = {
    422: _error("The `config` query parameter is invalid"),
}
HASH_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("The config hash does not decode to a config object"),
}


class DocsOnlyRoute(APIRoute):
    """Puts a typed request body into /openapi.json; never matches a request."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        return _NO_MATCH, {}


def docs_endpoint(model: Any, with_hash: bool) -> Callable[..., Any]:
    """The signature /docs reads: the path's config hash, and the typed body if any."""
    if model is None:  # the GET schema endpoints: no body
        if with_hash:

            async def documented_get_with_hash(config_hash: str) -> None:
                raise AssertionError("documentation route, never matched")

            return documented_get_with_hash

        async def documented_get() -> None:
            raise AssertionError("documentation route, never matched")

        return documented_get

    if with_hash:

        async def documented_with_hash(config_hash: str, body: model) -> None:
            raise AssertionError("documentation route, never matched")

        return documented_with_hash

    async def documented(body: model) -> None:
        raise AssertionError("documentation route, never matched")

    return documented

"""What client and server agree on: endpoint names, SSE event names, error shapes.

Both halves read these; the server-only body parsers live in `server.requests` and
the OpenAPI models in `server.models`, so the client never imports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

from pydantic import ValidationError

__all__ = [
    "CALLBACK",
    "DATA",
    "END",
    "ERROR",
    "INTERNAL_ERROR",
    "INTERNAL_SERVER_ERROR",
    "KNOWN_ENDPOINTS",
    "METADATA",
    "RUN_ID_HEADER",
    "STREAM_FILTERS",
    "EndpointName",
    "field_error",
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


def field_error(loc: tuple[str | int, ...], msg: str, kind: str = "value_error") -> dict[str, Any]:
    return {"type": kind, "loc": list(loc), "msg": msg}


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


#: The message of a failure nobody chose to describe: nothing but the status.
INTERNAL_SERVER_ERROR = "Internal Server Error"
#: What an exception becomes in a callback event: never its text, which may hold secrets.
INTERNAL_ERROR: Mapping[str, Any] = {
    "status_code": 500,
    "message": INTERNAL_SERVER_ERROR,
}
#: The header that carries the run id of a plain-text 500 (its body is LangServe's).
RUN_ID_HEADER = "x-run-id"

# Event type -> (names of its positional arguments, the handler flag that mutes it).
EVENT_TYPES: Mapping[str, tuple[tuple[str, ...], str]] = {
    "on_chain_start": (("serialized", "inputs"), "ignore_chain"),
    "on_chain_end": (("outputs",), "ignore_chain"),
    "on_chain_error": (("error",), "ignore_chain"),
    "on_chat_model_start": (("serialized", "messages"), "ignore_chat_model"),
    "on_llm_start": (("serialized", "prompts"), "ignore_llm"),
    "on_llm_end": (("response",), "ignore_llm"),
    "on_llm_error": (("error",), "ignore_llm"),
    "on_tool_start": (("serialized", "input_str"), "ignore_agent"),
    "on_tool_end": (("output",), "ignore_agent"),
    "on_tool_error": (("error",), "ignore_agent"),
    "on_retriever_start": (("serialized", "query"), "ignore_retriever"),
    "on_retriever_end": (("documents",), "ignore_retriever"),
    "on_retriever_error": (("error",), "ignore_retriever"),
    "on_agent_action": (("action",), "ignore_agent"),
    "on_agent_finish": (("finish",), "ignore_agent"),
}

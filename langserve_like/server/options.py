"""`RouteOptions`: every option of one route, validated once, and the endpoint set.

`add_routes` builds it from its keyword arguments (LangServe's, plus ours) and hands
it to `APIHandler`; an `APIHandler` constructed directly with the same keywords, as
LangServe's signature allows, builds it itself. Nothing downstream re-validates an
option or decides again which endpoints exist: `RouteOptions.endpoints` is the set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from typing_extensions import TypedDict

from langserve_like.exceptions import RunnableFailed
from langserve_like.serialization import Serializer, WellKnownLCSerializer
from langserve_like.wire import KNOWN_ENDPOINTS, EndpointName

if TYPE_CHECKING:
    from langserve_like.server.config import PerRequestConfigModifier
    from langserve_like.server.feedback import FeedbackSink, TokenFeedbackConfig

__all__ = [
    "CORE_ENDPOINTS",
    "DEFAULT_MAX_BATCH_SIZE",
    "DEFAULT_MAX_BODY_SIZE",
    "ErrorMapper",
    "HandlerKeywords",
    "RouteKeywords",
    "RouteOptions",
]

DEFAULT_MAX_BODY_SIZE = 16 * 1024 * 1024
DEFAULT_MAX_BATCH_SIZE = 256
#: Mounted unless disabled; the feedback endpoints are opt-in, so that a route never
#: accepts feedback (or reveals trace links) its app did not ask for.
CORE_ENDPOINTS = KNOWN_ENDPOINTS - {"feedback", "token_feedback", "public_trace_link"}
_OPTIONAL_ENDPOINTS = KNOWN_ENDPOINTS - CORE_ENDPOINTS

#: Maps a runnable's exception to the failure the client sees, or None for a plain 500.
ErrorMapper = Callable[[BaseException], "RunnableFailed | None"]


class RouteKeywords(TypedDict, total=False):
    """The keyword options of `add_routes` and `APIHandler` (see the README's table)."""

    input_type: Any
    output_type: Any
    config_keys: Sequence[str]
    include_callback_events: bool
    per_req_config_modifier: PerRequestConfigModifier | None
    enable_feedback_endpoint: bool
    token_feedback_config: TokenFeedbackConfig | None
    enable_public_trace_link_endpoint: bool
    disabled_endpoints: Sequence[EndpointName] | None
    enabled_endpoints: Sequence[EndpointName] | None
    stream_log_name_allow_list: Sequence[str] | None
    playground_type: Literal["default", "chat"]
    astream_events_version: Literal["v1", "v2"]
    serializer: Serializer | None
    feedback_sink: FeedbackSink | None
    max_body_size: int
    max_batch_size: int
    error_mapper: ErrorMapper | None
    expose_error_messages: bool
    strict: bool


class HandlerKeywords(RouteKeywords, total=False):
    """`APIHandler`'s keyword options: `add_routes`'s, where to serve, and
    `endpoints` (the core endpoints to serve, in place of enabled/disabled lists)."""

    path: str
    prefix: str
    endpoints: Iterable[str] | None


@dataclass(frozen=True, slots=True)
class RouteOptions:
    """One route's options, checked in `__post_init__`; build with `RouteOptions.create`.

    `endpoints` is every endpoint the route serves, feedback ones included.
    `stream_log_name_allow_list`: None allows every name, an empty set none.
    """

    path: str = ""
    prefix: str = ""
    input_type: Any = "auto"
    output_type: Any = "auto"
    config_keys: tuple[str, ...] = ("configurable",)
    include_callback_events: bool = False
    per_req_config_modifier: PerRequestConfigModifier | None = None
    stream_log_name_allow_list: frozenset[str] | None = None
    playground_type: Literal["default", "chat"] = "default"
    astream_events_version: Literal["v1", "v2"] = "v2"
    serializer: Serializer = field(default_factory=WellKnownLCSerializer)
    feedback_sink: FeedbackSink | None = None
    token_feedback_config: TokenFeedbackConfig | None = None
    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE
    error_mapper: ErrorMapper | None = None
    expose_error_messages: bool = False
    strict: bool = False
    endpoints: frozenset[str] = CORE_ENDPOINTS

    def __post_init__(self) -> None:
        if self.path and not self.path.startswith("/"):
            raise ValueError(f"path must be empty or start with '/', got {self.path!r}")
        if self.playground_type not in ("default", "chat"):
            raise ValueError(
                f"playground_type must be 'default' or 'chat', got {self.playground_type!r}"
            )
        if self.astream_events_version not in ("v1", "v2"):
            raise ValueError(
                f"astream_events_version must be 'v1' or 'v2', got {self.astream_events_version!r}"
            )
        _check_names(self.endpoints - {"context_schema"})
        config = self.token_feedback_config
        if config is not None and not config.get("key_configs"):
            raise ValueError("token_feedback_config needs at least one entry in key_configs")

    @property
    def run_name(self) -> str | None:
        """The name of the route's runs (its full path), for tracing and logs."""
        return (self.prefix + self.path) or None

    @classmethod
    def create(
        cls,
        *,
        path: str = "",
        prefix: str = "",
        endpoints: Iterable[str] | None = None,
        **keywords: Any,
    ) -> RouteOptions:
        """The options `add_routes(..., **keywords)` or `APIHandler(...)` stand for.

        `endpoints` (an `APIHandler` keyword) names the core endpoints directly;
        `enabled_endpoints` / `disabled_endpoints` are `add_routes`'s way to say it.
        """
        unknown = keywords.keys() - RouteKeywords.__annotations__.keys()
        if unknown:
            raise TypeError(f"Unknown options {sorted(unknown)}")
        enabled = keywords.pop("enabled_endpoints", None)
        disabled = keywords.pop("disabled_endpoints", None)
        core, optional = _select_endpoints(enabled, disabled)
        if endpoints is not None:
            core = _check_names(frozenset(endpoints))
        off = frozenset(disabled or ())
        feedback = _feedback_options(keywords, optional, off)
        allow = keywords.pop("stream_log_name_allow_list", None)
        return cls(
            path=path.rstrip("/") if path.startswith("/") else path,
            prefix=prefix,
            config_keys=tuple(keywords.pop("config_keys", ("configurable",))),
            stream_log_name_allow_list=None if allow is None else frozenset(allow),
            serializer=keywords.pop("serializer", None) or WellKnownLCSerializer(),
            endpoints=core | feedback.pop("served"),
            **feedback,
            **keywords,
        )

    def served(self, is_graph: bool) -> frozenset[str]:
        """The endpoints of a route for this runnable: a LangGraph graph's also
        serves its context schema, next to the other schemas."""
        if is_graph and "config_schema" in self.endpoints:
            return self.endpoints | {"context_schema"}
        return self.endpoints


def _check_names(names: frozenset[str]) -> frozenset[str]:
    unknown = names - KNOWN_ENDPOINTS
    if unknown:
        raise ValueError(
            f"Unknown endpoint names {sorted(unknown)}; known: {sorted(KNOWN_ENDPOINTS)}"
        )
    return names


def _select_endpoints(
    enabled: Sequence[str] | None, disabled: Sequence[str] | None
) -> tuple[frozenset[str], frozenset[str]]:
    """(core endpoints to mount, optional endpoints named in enabled_endpoints)."""
    if enabled is not None and disabled is not None:
        raise ValueError("Pass enabled_endpoints or disabled_endpoints, not both")
    names = _check_names(
        frozenset(n.lower() for n in (enabled if enabled is not None else disabled or ()))
    )
    if enabled is not None:
        return names & CORE_ENDPOINTS, names & _OPTIONAL_ENDPOINTS
    return CORE_ENDPOINTS - names, frozenset()


def _feedback_options(
    keywords: dict[str, Any], optional: frozenset[str], off: frozenset[str]
) -> dict[str, Any]:
    """The feedback options as the endpoint lists leave them, and `served`: the
    feedback endpoints that exist. A sink alone enables `feedback`."""
    token_config = keywords.pop("token_feedback_config", None)
    if "token_feedback" in optional and token_config is None:
        raise ValueError(
            "enabled_endpoints lists token_feedback but no token_feedback_config was given"
        )
    sink = keywords.pop("feedback_sink", None)
    if "feedback" in off:
        sink = None
    asked = keywords.pop("enable_feedback_endpoint", False) or "feedback" in optional
    trace = keywords.pop("enable_public_trace_link_endpoint", False)
    token_config = None if "token_feedback" in off else token_config
    served = {
        "feedback": (asked or sink is not None) and "feedback" not in off,
        "token_feedback": token_config is not None,
        "public_trace_link": (trace or "public_trace_link" in optional)
        and "public_trace_link" not in off,
    }
    return {
        "feedback_sink": sink,
        "token_feedback_config": token_config,
        "served": frozenset(name for name, on in served.items() if on),
    }

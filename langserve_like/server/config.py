"""Turning what a request says about config into the RunnableConfig a run gets.

Precedence, lowest first (LangServe's order):

1. the `/c/{config_hash}` path segment,
2. the body's `config` (values merged key-wise into 1; `tags` concatenated),
3. only keys listed in `config_keys` survive (non-empty `configurable` that is not
   allowed is a 422; other RunnableConfig keys outside the list are dropped, as
   LangServe does, so a client composed in a chain that carries its own metadata
   keeps working; a key that is no RunnableConfig key at all is a 422),
4. `server_config` (APIHandler callers),
5. `per_req_config_modifier(config, request)`,
6. server defaults that nobody overrides: `run_name` and a fresh `run_id`.

Config keys a route does not accept are dropped, as LangServe dropped them
(`strict=True` routes refuse keys that are no RunnableConfig key at all). Unlike
LangServe, client values are dumped with `exclude_unset`, so an empty
`configurable` in the body no longer resets values from the hash.

The run gets LangServe's run metadata (`__useragent`, `__langserve_version`,
`__langserve_endpoint`), which user code and tracers read; the streams and
callback events strip it before anything reaches a client.
"""

from __future__ import annotations

import inspect
import os
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast
from uuid import UUID, SafeUUID

import orjson
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import merge_configs
from pydantic import BaseModel, ValidationError

from langserve_like.exceptions import RequestError
from langserve_like.wire import validation_errors

__all__ = [
    "CLIENT_CONFIG_KEYS",
    "MAX_CONFIG_HASH_JSON",
    "MAX_CONFIG_HASH_LENGTH",
    "ConfigResolver",
    "PerRequestConfigModifier",
    "decode_config_hash",
    "encode_config_hash",
    "new_run_id",
]

PerRequestConfigModifier = Callable[
    [dict[str, Any], Any], "dict[str, Any] | Awaitable[dict[str, Any]]"
]

# An LZString hash of this many characters inflates to at most ~3 MB of JSON (each
# decoded entry is at most one character longer than the previous one), which
# bounds the pure-Python decompression work an attacker can ask for.
MAX_CONFIG_HASH_LENGTH = 4096
# ...and a decoded config may be at most this long: decoded configs are cached per
# route, so megabyte-sized ones (a few kB of hash) would let clients fill memory.
MAX_CONFIG_HASH_JSON = 64 * 1024
# What a client may send in `config`: RunnableConfig's keys (LangServe's Python
# client sends tags, metadata and recursion_limit with every call) and the camelCase
# ones LangChain.js's RemoteRunnable sends. `callbacks` never: both clients strip it.
CLIENT_CONFIG_KEYS = frozenset(RunnableConfig.__annotations__) - {"callbacks"} | {
    "maxConcurrency",
    "recursionLimit",
    "returnExceptions",
    "runId",
    "runName",
    "timeout",
}
_HASH_CACHE_SIZE = 256
_INVALID_HASH = "Invalid config hash"
_EMPTY_VALUES: tuple[Any, ...] = (None, [], {})


# `new_run_id`: the bits `uuid.uuid4()` sets (version 4, RFC 4122 variant) and the
# two slots a UUID has.
_VERSION_MASK = ~((0xC000 << 48) | (0xF000 << 64))
_VERSION_BITS = (0x8000 << 48) | (0x4000 << 64)
_UNKNOWN = SafeUUID.unknown
_new = object.__new__
# The setters of UUID's two slots themselves: `object.__setattr__(run_id, "int", …)`
# finds the same descriptor by name first, ~1,000 instructions per slot.
_set_int = UUID.__dict__["int"].__set__
_set_is_safe = UUID.__dict__["is_safe"].__set__
_from_bytes = int.from_bytes
_urandom = os.urandom


def new_run_id() -> UUID:
    """A fresh random run id: the same version-4 UUID as `uuid.uuid4()`, built from
    16 random bytes without `UUID.__init__`'s argument checks, which cost most of
    `uuid4()`'s ~13,000 instructions (every run of every request makes one)."""
    run_id = _new(UUID)
    _set_int(run_id, _from_bytes(_urandom(16), "big") & _VERSION_MASK | _VERSION_BITS)
    _set_is_safe(run_id, _UNKNOWN)
    return run_id


def decode_config_hash(config_hash: str) -> dict[str, Any]:
    """`LZString.decompressFromEncodedURIComponent` then JSON, as LangServe's clients encode."""
    if len(config_hash) > MAX_CONFIG_HASH_LENGTH:
        raise RequestError(400, f"{_INVALID_HASH}: longer than {MAX_CONFIG_HASH_LENGTH} characters")
    import lzstring  # the server extra's well-kept LZString port

    try:
        text = lzstring.LZString().decompressFromEncodedURIComponent(config_hash)
    except Exception:  # any failure of the third-party decoder means a bad hash
        text = None
    if text and len(text) > MAX_CONFIG_HASH_JSON:
        raise RequestError(
            400, f"{_INVALID_HASH}: decodes to more than {MAX_CONFIG_HASH_JSON} characters"
        )
    try:
        value = orjson.loads(text) if text else None
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise RequestError(400, _INVALID_HASH)
    return value


def encode_config_hash(config: dict[str, Any]) -> str:
    import lzstring

    return cast(
        str,
        lzstring.LZString().compressToEncodedURIComponent(orjson.dumps(config).decode()),
    )


class ConfigResolver:
    """Decided once per route at `add_routes` time; `resolve` runs per request."""

    def __init__(
        self,
        runnable: Runnable[Any, Any],
        *,
        config_keys: Sequence[str],
        run_name: str | None,
        config_model: type[BaseModel],
        per_req_config_modifier: PerRequestConfigModifier | None = None,
        strict: bool = False,
    ) -> None:
        if "run_name" in config_keys:
            raise ValueError("Cannot configure run_name: it is set by the server")
        self.config_keys = frozenset(config_keys)
        self.run_name = run_name
        self.config_model = config_model
        self._modifier = per_req_config_modifier
        self.strict = strict
        from langserve_like import __version__  # here: the package imports this module

        # The run metadata of each endpoint, built once: a request copies it and sets
        # the user agent, which keeps its place as the first key (a copy costs a
        # third less than a new dict unpacking the constant part).
        self._run_metadata = {
            endpoint: {
                "__useragent": None,
                "__langserve_version": __version__,
                "__langserve_endpoint": endpoint,
            }
            for endpoint in ("invoke", "batch", "stream", "stream_log", "stream_events")
        }
        self._modifier_is_async = per_req_config_modifier is not None and (
            inspect.iscoroutinefunction(per_req_config_modifier)
            or inspect.iscoroutinefunction(type(per_req_config_modifier).__call__)
        )
        #: Whether `finish` must be awaited (an async per-request modifier); if not,
        #: `finish_now` does the same without a coroutine per run.
        self.awaits = self._modifier_is_async
        self._hash_cache: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def validate(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Validate a client config against the route's config schema.

        Errors are pydantic's items with `loc` relative to the config, as LangServe's.
        """
        if not raw:
            return {}
        if self.strict:
            unknown = raw.keys() - CLIENT_CONFIG_KEYS
            if unknown:
                key = sorted(unknown)[0]
                raise RequestError(
                    422,
                    [
                        {
                            "type": "extra_forbidden",
                            "loc": [key],
                            "msg": f"Unknown config key {key!r}",
                        }
                    ],
                )
        try:
            model = self.config_model.model_validate(raw)
        except ValidationError as exc:
            raise RequestError(422, validation_errors(exc)) from None
        config = model.model_dump(exclude_unset=True)
        configurable = config.get("configurable")
        if configurable and "configurable" not in self.config_keys:
            raise RequestError(
                422,
                "The config field `configurable` has been disallowed by the server. "
                "This can be modified server side by adding `configurable` to the list "
                "of `config_keys` argument in `add_routes`",
            )
        return {k: v for k, v in config.items() if k in self.config_keys and v not in _EMPTY_VALUES}

    def from_hash(self, config_hash: str) -> dict[str, Any]:
        cached = self._hash_cache.get(config_hash)
        if cached is not None:
            self._hash_cache.move_to_end(config_hash)
            return cached
        config = self.validate(decode_config_hash(config_hash))
        self._hash_cache[config_hash] = config
        if len(self._hash_cache) > _HASH_CACHE_SIZE:
            self._hash_cache.popitem(last=False)
        return config

    def client_config(self, body_config: dict[str, Any] | None, config_hash: str) -> dict[str, Any]:
        """Steps 1-3: what the client may set, validated and merged."""
        body = self.validate(body_config) if body_config else {}
        if not config_hash:
            return body
        hashed = self.from_hash(config_hash)
        return (
            dict(merge_configs(cast(RunnableConfig, hashed), cast(RunnableConfig, body)))
            if body
            else dict(hashed)
        )

    def run_metadata(self, request: Any, endpoint: str) -> dict[str, Any]:
        """The run metadata of one request, for `finish` (once per request, not per input)."""
        # The raw ASGI headers: a Starlette Headers object per request costs more
        # than finding one header (ASGI header names are lower-case).
        user_agent = None
        for name, value in request.scope["headers"]:
            if name == b"user-agent":
                user_agent = value.decode("latin-1")
                break
        run_metadata = self._run_metadata[endpoint].copy()
        run_metadata["__useragent"] = user_agent
        return run_metadata

    def run_config(
        self,
        config: dict[str, Any],
        request: Any,
        server_config: RunnableConfig | None,
        endpoint: str,
    ) -> RunnableConfig:
        """`finish_now` of a request that makes one run (invoke, the streams), with
        `endpoint`'s run metadata; for a route without an async modifier."""
        if server_config or self._modifier is not None:
            return self.finish_now(
                config, request, server_config, self.run_metadata(request, endpoint)
            )
        # The usual route (no server config, no modifier): `run_metadata` and
        # `_defaults` inlined, as one call per request rather than three, and the run
        # metadata, made for this one run, not copied again.
        user_agent = None
        for name, value in request.scope["headers"]:
            if name == b"user-agent":
                user_agent = value.decode("latin-1")
                break
        run_metadata = self._run_metadata[endpoint].copy()
        run_metadata["__useragent"] = user_agent
        if self.run_name:
            config["run_name"] = self.run_name
        metadata = config.get("metadata")
        config["metadata"] = {**metadata, **run_metadata} if metadata else run_metadata
        if not config.get("run_id"):
            config["run_id"] = new_run_id()
        return config  # type: ignore[return-value]

    async def finish(
        self,
        config: dict[str, Any],
        request: Any,
        server_config: RunnableConfig | None = None,
        run_metadata: dict[str, Any] | None = None,
    ) -> RunnableConfig:
        """Steps 4-6: server config, the per-request modifier and the defaults
        (with `run_metadata` when the request runs the runnable)."""
        if not self._modifier_is_async:
            return self.finish_now(config, request, server_config, run_metadata)
        if server_config:
            config = dict(merge_configs(cast(RunnableConfig, config), server_config))
        modified: Any = self._modifier(dict(config), request)  # type: ignore[misc]
        return self._defaults(await modified, run_metadata)

    def finish_now(
        self,
        config: dict[str, Any],
        request: Any,
        server_config: RunnableConfig | None = None,
        run_metadata: dict[str, Any] | None = None,
    ) -> RunnableConfig:
        """`finish` for a route without an async modifier (`awaits` is False)."""
        if server_config:
            config = dict(merge_configs(cast(RunnableConfig, config), server_config))
        if self._modifier is not None:
            config = self._modifier(dict(config), request)  # type: ignore[assignment]
        return self._defaults(config, run_metadata)

    def _defaults(self, config: Any, run_metadata: dict[str, Any] | None) -> RunnableConfig:
        if not isinstance(config, dict):
            raise TypeError("per_req_config_modifier must return a dict")
        if self.run_name:
            config["run_name"] = self.run_name
        if run_metadata is not None:
            metadata = config.get("metadata")
            # A copy either way: the runs of a batch share `run_metadata`.
            config["metadata"] = {**metadata, **run_metadata} if metadata else run_metadata.copy()
        if not config.get("run_id"):
            config["run_id"] = new_run_id()
        return config  # type: ignore[return-value]  # (`cast` is a call per run)

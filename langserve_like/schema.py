"""Input, output and config schemas of a runnable, named per route.

LangServe recomputed `runnable.with_config(config).input_schema` on every request
(for a lambda that re-parses its source each time). Here the schemas are computed
once at `add_routes` time; only a runnable with configurable fields or
alternatives, whose input schema can depend on `configurable`, gets a small cache
keyed on exactly that.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, cast

import orjson
from langchain_core.load.serializable import Serializable
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PydanticUserError,
    RootModel,
    ValidationError,
    create_model,
)
from pydantic_core import SchemaValidator

from langserve_like.exceptions import RequestError
from langserve_like.server.config import CLIENT_CONFIG_KEYS
from langserve_like.wire import validation_errors

__all__ = [
    "CustomUserType",
    "RouteSchemas",
    "namespace_for",
    "typed_dict_error",
    "unpack_input",
]

_CACHE_SIZE = 128


class CustomUserType(BaseModel):
    """Subclass this for an input type that the runnable receives as the model
    itself, not as a plain dict (as in LangServe)."""


def namespace_for(path: str) -> str:
    """`/my-chain/v1` -> `my_chain_v1`: a prefix for model names unique per path."""
    return re.sub(r"[^a-zA-Z0-9]", "_", path.strip("/")) or "root"


Model = type[BaseModel]


def _v2(model: Any) -> Model:
    """langchain-core may hand back a pydantic v1 model; say clearly that it won't do."""
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(
            f"{model!r} is not a pydantic v2 model; langserve_like needs pydantic v2 types "
            "(from pydantic import BaseModel, not pydantic.v1)"
        )
    if not model.__pydantic_complete__ and not model.model_rebuild(raise_errors=False):
        # Otherwise every request to the route would fail with a 500.
        raise TypeError(
            f"The schema {model.__name__} refers to types that cannot be resolved. If the "
            "runnable's module uses `from __future__ import annotations`, drop it or pass "
            "input_type=/output_type= to add_routes."
        )
    return model


def typed_dict_error(exc: Exception, what: str) -> TypeError | None:
    """pydantic's refusal of `typing.TypedDict` on Python < 3.12, saying what to change."""
    if getattr(exc, "code", None) != "typed-dict-version":
        return None
    return TypeError(
        f"The {what} uses typing.TypedDict, which pydantic cannot read on Python < 3.12: "
        "use typing_extensions.TypedDict (from typing_extensions import TypedDict)"
    )


def _named(model: type[BaseModel], name: str) -> type[BaseModel]:
    """A subclass of `model` called `name`, so two routes never share a schema name."""
    named: type[BaseModel] = create_model(name, __base__=model)
    return named


def _documented_config(model: type[BaseModel], name: str, strict: bool) -> type[BaseModel]:
    """The config model for /docs: the keys the route validates, the keys it accepts
    and ignores; any other key too, unless the route is `strict`."""

    class Strict(model):  # type: ignore[misc,valid-type]
        model_config = ConfigDict(extra="forbid" if strict else "ignore")

    ignored: dict[str, Any] = {
        key: (
            Any,
            Field(default=None, description="Accepted and ignored: not in config_keys"),
        )
        for key in sorted(CLIENT_CONFIG_KEYS - model.model_fields.keys())
    }
    documented: type[BaseModel] = create_model(name, __base__=Strict, **ignored)
    return documented


# Types `unpack_input` returns as they are, found by one set lookup: `isinstance`
# against pydantic's BaseModel (an ABC) costs ~1,000 instructions per call, three
# of them per validated input.
_SCALARS = frozenset({str, int, float, bool, type(None)})
# Per pydantic model class, what `unpack_input` does with its instances: keep
# ("keep"), unwrap the root ("root") or turn into a dict ("fields"). Classes are
# few, but configurable routes build models per config: bounded like the schemas.
_MODEL_KINDS: dict[type, str] = {}


def _model_kind(cls: type[BaseModel]) -> str:
    if issubclass(cls, (Serializable, CustomUserType)):
        kind = "keep"
    else:
        kind = "root" if issubclass(cls, RootModel) else "fields"
    if len(_MODEL_KINDS) >= 8 * _CACHE_SIZE:
        _MODEL_KINDS.clear()
    _MODEL_KINDS[cls] = kind
    return kind


def unpack_input(value: Any) -> Any:
    """Validated pydantic models back to plain dicts, except LangChain objects
    (messages, documents, ...) and CustomUserType, which the runnable gets as is."""
    cls = type(value)
    if cls in _SCALARS:
        return value
    kind = _MODEL_KINDS.get(cls)
    if kind is None and cls is not list and cls is not dict and isinstance(value, BaseModel):
        kind = _model_kind(cls)
    if kind is not None:
        if kind == "root":
            root = value.root
            return root if type(root) in _SCALARS else unpack_input(root)
        if kind == "keep":
            return value
        return {key: unpack_input(item) for key, item in value}
    if isinstance(value, list):
        return [unpack_input(item) for item in value]
    if isinstance(value, dict):
        return {key: unpack_input(item) for key, item in value.items()}
    return value


def _root_validator(model: type[BaseModel]) -> SchemaValidator | None:
    """A validator of `model`'s root, when validating the model only wraps it: a
    `RootModel` with no validators or `__init__` of its own and its definitions
    inline. The wrapper adds no error location, so the errors are the same."""
    if not issubclass(model, RootModel) or type(model.__pydantic_validator__) is not (
        SchemaValidator  # not a mock (a model still to be rebuilt) or a plugin's wrapper
    ):
        return None
    schema: Any = model.__pydantic_core_schema__
    decorators = model.__pydantic_decorators__
    if (
        schema.get("type") != "model"
        or not schema.get("root_model")
        or schema.get("custom_init")
        or schema.get("post_init")
        or decorators.validators
        or decorators.field_validators
        or decorators.root_validators
        or decorators.model_validators
    ):
        return None
    return SchemaValidator(schema["schema"], schema.get("config"))


class RouteSchemas:
    """The schemas of one route's runnable, computed once."""

    def __init__(
        self,
        runnable: Runnable[Any, Any],
        namespace: str,
        config_keys: Sequence[str],
        *,
        input_model: Model | None = None,
        config_model: Model | None = None,
    ) -> None:
        """`input_model` and `config_model` replace the runnable's own (a graph's)."""
        self.runnable = runnable
        self.namespace = namespace
        self.config_keys = list(config_keys)
        self.configurable = bool(runnable.config_specs)
        try:
            self.input_model = _v2(input_model or runnable.get_input_schema())
            self.output_model = _v2(runnable.get_output_schema())
            self.config_model = _v2(
                config_model or runnable.config_schema(include=self.config_keys)
            )
        except PydanticUserError as exc:
            clear = typed_dict_error(exc, f"input or output type of {runnable.get_name()}")
            if clear is None:
                raise
            raise clear from None
        #: For a plain root model (a lambda's `x: int`), the validator of its root
        #: alone: the same checks and errors without building the model to unwrap it.
        self._root = None if self.configurable else _root_validator(self.input_model)
        self._json: dict[tuple[str, str], dict[str, Any]] = {}
        self._configured: OrderedDict[
            str, tuple[type[BaseModel], type[BaseModel], type[BaseModel]]
        ] = OrderedDict()

    def docs_models(
        self, strict: bool = False
    ) -> tuple[type[BaseModel], type[BaseModel], type[BaseModel]]:
        """Input, output and config models renamed `<namespace>Input`, … for /docs."""
        return (
            _named(self.input_model, f"{self.namespace}Input"),
            _named(self.output_model, f"{self.namespace}Output"),
            _documented_config(self.config_model, f"{self.namespace}Config", strict),
        )

    def _for_config(
        self, config: Mapping[str, Any] | None
    ) -> tuple[type[BaseModel], type[BaseModel], type[BaseModel], str]:
        configurable = (config or {}).get("configurable")
        if not self.configurable or not configurable:
            return self.input_model, self.output_model, self.config_model, ""
        try:
            key = orjson.dumps(configurable, option=orjson.OPT_SORT_KEYS).decode()
        except TypeError:
            key = ""  # not JSON (set by a config modifier): compute without caching
        cached: tuple[Model, Model, Model] | None = self._configured.get(key) if key else None
        if cached is None:
            try:
                bound = self.runnable.with_config(cast(RunnableConfig, config))
                cached = (
                    _v2(bound.get_input_schema(cast(RunnableConfig, config))),
                    _v2(bound.get_output_schema(cast(RunnableConfig, config))),
                    _v2(bound.config_schema(include=self.config_keys)),
                )
            except Exception as exc:  # e.g. a configured template with a bad variable
                raise RequestError(
                    422,
                    [
                        {
                            "type": "value_error",
                            "loc": ["config", "configurable"],
                            "msg": str(exc),
                        }
                    ],
                ) from None
            if key:
                self._configured[key] = cached
                if len(self._configured) > _CACHE_SIZE:
                    self._configured.popitem(last=False)
        elif key:
            self._configured.move_to_end(key)
        return (*cached, key)

    def input_for(self, config: Mapping[str, Any] | None) -> type[BaseModel]:
        return self._for_config(config)[0]

    def validate_input(
        self, value: Any, config: Mapping[str, Any] | None, loc: tuple[str | int, ...] = ()
    ) -> Any:
        # Straight to the validator (model_validate adds a layer of Python per call),
        # and no per-config lookup for the usual runnable without configurable fields.
        validator: Any = self._root
        if validator is None:
            model = self.input_model if not self.configurable else self.input_for(config)
            validator = model.__pydantic_validator__
        try:
            validated = validator.validate_python(value)
        except ValidationError as exc:
            raise RequestError(422, validation_errors(exc, loc)) from None
        except Exception as exc:  # a LangChain class's own validator choked on the input
            msg = f"Input could not be validated ({type(exc).__name__})"
            raise RequestError(
                422, [{"type": "value_error", "loc": list(loc), "msg": msg}]
            ) from None
        return validated if type(validated) in _SCALARS else unpack_input(validated)

    def json_schema(self, which: str, config: Mapping[str, Any] | None) -> dict[str, Any]:
        """The JSON schema LangServe's `{which}_schema` endpoint returns."""
        input_model, output_model, config_model, key = self._for_config(config)
        model = {"input": input_model, "output": output_model, "config": config_model}[which]
        cached = self._json.get((which, key))
        if cached is None:
            cached = model.model_json_schema()
            if key:  # configured schemas: keep the cache bounded
                if len(self._json) > 3 * _CACHE_SIZE:
                    self._json.clear()
            self._json[(which, key)] = cached
        return cached

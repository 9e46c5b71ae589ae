"""The served graphs: checkpointer injection, JSON shapes of state and values.

Every runnable added with `runs=` is an assistant named after its path. A
compiled LangGraph graph gets the engine's SQLite checkpointer and store (a copy
of the graph: the one the LangServe endpoints serve is left alone); any other
Runnable can only run statelessly, its output kept on the run row.
"""

from __future__ import annotations

import dataclasses
import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson
from langchain_core.runnables import Runnable
from pydantic import BaseModel

__all__ = ["Assistant", "Registry", "dumps", "state_to_api", "to_jsonable"]

ASSISTANT_NAMESPACE = uuid.UUID("6ba7b812-9dad-11d1-80b4-00c04fd430c8")


def _default(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, bytes):
        return obj.decode(errors="replace")
    if hasattr(obj, "_asdict"):
        return obj._asdict()
    # Anything else (a client, a lock...) is state no JSON client could use.
    return f"<{type(obj).__name__}>"


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, default=_default, option=orjson.OPT_NON_STR_KEYS)


def to_jsonable(obj: Any) -> Any:
    return orjson.loads(dumps(obj))


def is_graph(runnable: Runnable[Any, Any]) -> bool:
    from langgraph.pregel import Pregel

    return isinstance(runnable, Pregel)


def check_servable(runnable: Runnable[Any, Any], path: str) -> None:
    """A graph compiled with its own checkpointer would keep its state out of
    the engine's file (and out of its crash recovery): refuse it up front."""
    from langgraph.checkpoint.base import BaseCheckpointSaver

    if is_graph(runnable) and isinstance(
        getattr(runnable, "checkpointer", None), BaseCheckpointSaver
    ):
        raise ValueError(
            f"The graph served at {path or '/'!r} with runs= was compiled with its own "
            "checkpointer; compile it without one (graph.compile()), runs= provides it"
        )


@dataclass
class Assistant:
    graph_id: str
    runnable: Runnable[Any, Any]
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    bound: Any = None  # the graph with the engine's checkpointer and store

    @property
    def stateful(self) -> bool:
        return is_graph(self.runnable)

    @property
    def assistant_id(self) -> str:
        return self.graph_id

    def bind(self, checkpointer: Any, store: Any) -> None:
        if self.stateful:
            self.bound = self.runnable.copy(  # type: ignore[attr-defined]
                update={"checkpointer": checkpointer, "store": store}
            )

    def to_api(self) -> dict[str, Any]:
        return {
            "assistant_id": self.assistant_id,
            "graph_id": self.graph_id,
            "config": {},
            "context": {},
            "metadata": {"created_by": "system"},
            "name": self.graph_id,
            "description": None,
            "version": 1,
            "created_at": self.created_at,
            "updated_at": self.created_at,
        }

    def schemas(self) -> dict[str, Any]:
        runnable = self.runnable
        out: dict[str, Any] = {
            "graph_id": self.graph_id,
            "input_schema": runnable.get_input_jsonschema(),
            "output_schema": runnable.get_output_jsonschema(),
            "config_schema": runnable.get_config_jsonschema(),
            "state_schema": None,
            "context_schema": None,
        }
        if self.stateful:
            channels = getattr(runnable, "stream_channels_list", None)
            out["state_schema"] = runnable.get_output_jsonschema() if channels else None
            out["context_schema"] = runnable.get_context_jsonschema()  # type: ignore[attr-defined]
        return out

    def drawable(self, xray: int | bool) -> dict[str, Any]:
        graph = self.runnable.get_graph(xray=xray) if self.stateful else self.runnable.get_graph()  # type: ignore[call-arg]
        data = graph.to_json()
        return {
            "nodes": [{**n, "data": _node_data(n.get("data"))} for n in data["nodes"]],
            "edges": data["edges"],
        }


def _node_data(data: Any) -> Any:
    if isinstance(data, Mapping):
        return to_jsonable(dict(data))
    return None if data is None else str(data)


class Registry:
    """The assistants of one app, by id (the path name they were added under)."""

    def __init__(self) -> None:
        self._items: dict[str, Assistant] = {}

    def add(self, graph_id: str, runnable: Runnable[Any, Any]) -> Assistant:
        if graph_id in self._items:
            raise ValueError(f"An assistant named {graph_id!r} is already served with runs=")
        assistant = Assistant(graph_id, runnable)
        self._items[graph_id] = assistant
        return assistant

    def get(self, assistant_id: str) -> Assistant | None:
        return self._items.get(assistant_id)

    def all(self) -> list[Assistant]:
        return list(self._items.values())


def _checkpoint(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not config:
        return None
    conf = config.get("configurable", {})
    return {
        "thread_id": conf.get("thread_id"),
        "checkpoint_ns": conf.get("checkpoint_ns", ""),
        "checkpoint_id": conf.get("checkpoint_id"),
        "checkpoint_map": conf.get("checkpoint_map"),
    }


def state_to_api(snapshot: Any) -> dict[str, Any]:
    """A LangGraph `StateSnapshot` as the LangGraph API's ThreadState."""
    tasks = [
        {
            "id": task.id,
            "name": task.name,
            "path": list(task.path) if getattr(task, "path", None) else [],
            "error": None if task.error is None else type(task.error).__name__,
            "interrupts": to_jsonable(list(task.interrupts)),
            "checkpoint": None,
            "state": None,
            "result": to_jsonable(task.result) if getattr(task, "result", None) else None,
        }
        for task in snapshot.tasks
    ]
    checkpoint = _checkpoint(snapshot.config)
    parent = _checkpoint(snapshot.parent_config)
    return {
        "values": to_jsonable(snapshot.values),
        "next": list(snapshot.next),
        "tasks": tasks,
        "metadata": to_jsonable(snapshot.metadata),
        "created_at": snapshot.created_at,
        "checkpoint": checkpoint,
        "parent_checkpoint": parent,
        "checkpoint_id": checkpoint["checkpoint_id"] if checkpoint else None,
        "parent_checkpoint_id": parent["checkpoint_id"] if parent else None,
        "interrupts": to_jsonable(list(snapshot.interrupts)),
    }


def interrupts_by_task(snapshot: Any) -> dict[str, Any]:
    """The Thread's `interrupts` field: task id -> the interrupts it raised."""
    return {t.id: to_jsonable(list(t.interrupts)) for t in snapshot.tasks if t.interrupts}

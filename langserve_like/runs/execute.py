"""One attempt of one run: drive the graph (or Runnable) and emit its events.

The run's `run_id` goes into `config["metadata"]`, which LangGraph copies into
every checkpoint. When a retry finds that id on the thread's latest checkpoint,
the earlier attempt had started: it resumes from there (input `None`) instead of
applying the input again, so the super-steps that completed are not re-run.
"""

from __future__ import annotations

import copy
import logging
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from langserve_like.runs.events import RunWriter
from langserve_like.runs.graph import Assistant, dumps, interrupts_by_task, to_jsonable

__all__ = ["STREAM_MODES", "Outcome", "execute"]

logger = logging.getLogger("langserve_like.runs")

STREAM_MODES = frozenset(
    {
        "values",
        "updates",
        "messages",
        "messages-tuple",
        "custom",
        "events",
        "debug",
        "tasks",
        "checkpoints",
    }
)


@dataclass
class Outcome:
    status: str  # success | error
    output: Any = None
    error: dict[str, Any] | None = None
    thread: dict[str, Any] = field(default_factory=dict)


def run_config(
    kwargs: dict[str, Any], thread_id: str, run_id: str, assistant: Assistant, retry: bool
) -> dict[str, Any]:
    config: dict[str, Any] = copy.deepcopy(kwargs.get("config") or {})
    configurable = {**config.get("configurable", {}), "thread_id": thread_id}
    checkpoint = kwargs.get("checkpoint") or {}
    checkpoint_id = kwargs.get("checkpoint_id") or checkpoint.get("checkpoint_id")
    # A retry continues from the latest checkpoint, the one its first attempt wrote.
    if checkpoint_id and not retry:
        configurable["checkpoint_id"] = checkpoint_id
        configurable["checkpoint_ns"] = checkpoint.get("checkpoint_ns", "")
    config["configurable"] = configurable
    config["metadata"] = {
        **config.get("metadata", {}),
        **(kwargs.get("metadata") or {}),
        "run_id": run_id,
        "thread_id": thread_id,
        "assistant_id": assistant.assistant_id,
        "graph_id": assistant.graph_id,
    }
    return config


def _input(kwargs: dict[str, Any]) -> Any:
    command = kwargs.get("command")
    if command:
        from langgraph.types import Command, Send

        goto = command.get("goto")
        if isinstance(goto, dict):
            goto = Send(goto["node"], goto.get("input"))
        elif isinstance(goto, list):
            goto = [Send(g["node"], g.get("input")) if isinstance(g, dict) else g for g in goto]
        return Command(resume=command.get("resume"), update=command.get("update"), goto=goto or ())
    return kwargs.get("input")


def _error(exc: BaseException, expose: bool) -> dict[str, Any]:
    message = str(exc) if expose else "The run failed; the server log has the details."
    return {"error": type(exc).__name__, "message": message}


def _database_lost(exc: BaseException) -> bool:
    """A PostgreSQL connection that broke (a server restart): psycopg is loaded
    whenever the storage is PostgreSQL."""
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(exc, psycopg.OperationalError)


async def execute(
    assistant: Assistant,
    row: Any,
    kwargs: dict[str, Any],
    writer: RunWriter,
    *,
    durability: str,
    expose_errors: bool,
) -> Outcome:
    try:
        if assistant.stateful:
            return await _execute_graph(assistant, row, kwargs, writer, durability)
        return await _execute_runnable(assistant, row, kwargs, writer)
    except Exception as exc:
        if _database_lost(exc):
            raise  # not the run's fault: its lease lapses and another attempt resumes it
        logger.exception("Run %s of %r failed", row["run_id"], assistant.graph_id)
        error = _error(exc, expose_errors)
        writer.emit("error", dumps(error))
        thread: dict[str, Any] = {"status": "error", "error": error}
        if assistant.stateful and row["thread_id"] is not None:
            thread.update(await _thread_state(assistant, row["thread_id"]))
            thread["status"] = "error"
        elif assistant.stateful:  # a stateless run's checkpoints go with it
            await assistant.bound.checkpointer.adelete_thread(row["run_id"])
        return Outcome("error", error=error, thread=thread)


async def _execute_graph(
    assistant: Assistant, row: Any, kwargs: dict[str, Any], writer: RunWriter, durability: str
) -> Outcome:
    graph = assistant.bound
    run_id = row["run_id"]
    thread_id = row["thread_id"] or run_id  # a stateless run keeps its checkpoints apart
    retry = row["attempt"] > 1
    config = run_config(kwargs, thread_id, run_id, assistant, retry)
    graph_input = _input(kwargs)
    if retry:
        latest = await graph.aget_state({"configurable": {"thread_id": thread_id}})
        if (latest.metadata or {}).get("run_id") == run_id:
            graph_input = None
    modes = list(kwargs.get("stream_mode") or ["values"])
    options = {
        "durability": kwargs.get("durability") or durability,
        "interrupt_before": kwargs.get("interrupt_before"),
        "interrupt_after": kwargs.get("interrupt_after"),
        "context": kwargs.get("context"),
    }
    subgraphs = bool(kwargs.get("stream_subgraphs"))
    seen = _Seen(frozenset(modes))
    if "events" in modes:
        async for event in graph.astream_events(graph_input, config, version="v2", **options):
            writer.emit("events", dumps(event))
    else:
        async for ns, mode, chunk in _graph_parts(
            graph, graph_input, config, modes, subgraphs, options
        ):
            if not seen.took(ns, mode, chunk):
                _emit_part(writer, modes, ns, mode, chunk)
    state = seen.state() or await _thread_state(assistant, thread_id)
    output = state["values"]
    if state["interrupts"]:
        output = {**(output if isinstance(output, dict) else {}), "__interrupt__": state["all"]}
    if row["thread_id"] is None:
        await graph.checkpointer.adelete_thread(thread_id)
    state.pop("all")
    return Outcome("success", output=output, thread=state)


async def _graph_parts(
    graph: Any,
    graph_input: Any,
    config: dict[str, Any],
    modes: list[str],
    subgraphs: bool,
    options: dict[str, Any],
) -> AsyncIterator[tuple[tuple[str, ...], str, Any]]:
    # `values` and `updates` always: the run's final state is read from them (see _Seen).
    lg_modes = sorted({"messages" if m == "messages-tuple" else m for m in modes} | _OWN)
    async for part in graph.astream(
        graph_input, config, stream_mode=lg_modes, subgraphs=subgraphs, **options
    ):
        if subgraphs:
            yield part
        else:
            yield ((), *part)


def _emit_part(
    writer: RunWriter, modes: list[str], ns: tuple[str, ...], mode: str, chunk: Any
) -> None:
    suffix = "|" + "|".join(ns) if ns else ""
    if mode != "messages":
        writer.emit(mode + suffix, dumps(chunk))
        return
    message, metadata = chunk
    if "messages-tuple" in modes:
        writer.emit("messages" + suffix, dumps([message, metadata]))
    if "messages" in modes:
        _emit_message(writer, suffix, message, metadata)


def _emit_message(writer: RunWriter, suffix: str, message: Any, metadata: Any) -> None:
    """The `messages` mode: metadata once per message, then the message so far."""
    seen: dict[str, Any] = writer.scratch.setdefault("messages", {})
    message_id = getattr(message, "id", None) or ""
    if message_id not in seen:
        writer.emit("messages/metadata" + suffix, dumps({message_id: {"metadata": metadata}}))
        seen[message_id] = message
    else:
        try:
            seen[message_id] = seen[message_id] + message
        except TypeError:
            seen[message_id] = message
    complete = not type(message).__name__.endswith("Chunk")
    name = "messages/complete" if complete else "messages/partial"
    writer.emit(name + suffix, dumps([seen[message_id]]))


_OWN = frozenset({"values", "updates"})


class _Seen:
    """The run's final state from what its top-level stream carried, without reading
    the checkpoint back: the last `values` chunk is the thread's values, and a run that
    streamed no `__interrupt__` update ended with nothing next (idle). Any interrupt
    (dynamic or interrupt_before/after, which LangGraph always reports as an
    `__interrupt__` update) or a run that streamed no values reads the checkpoint."""

    def __init__(self, modes: frozenset[str]) -> None:
        self.modes = modes  # what the run's caller asked for
        self.values: Any = _NOTHING
        self.interrupted = False

    def took(self, ns: tuple[str, ...], mode: str, chunk: Any) -> bool:
        """Note a chunk; True when only this reader asked for its mode."""
        if ns:  # a subgraph's: its caller's own stream reports what the thread needs
            pass
        elif mode == "values":
            self.values = chunk
        elif mode == "updates" and isinstance(chunk, dict) and "__interrupt__" in chunk:
            self.interrupted = True
        return mode in _OWN and mode not in self.modes

    def state(self) -> dict[str, Any] | None:
        if self.interrupted or self.values is _NOTHING:
            return None
        values = to_jsonable(self.values)
        return {"values": values, "interrupts": {}, "all": [], "status": "idle"}


_NOTHING = object()


async def _thread_state(assistant: Assistant, thread_id: str) -> dict[str, Any]:
    snapshot = await assistant.bound.aget_state({"configurable": {"thread_id": thread_id}})
    interrupts = interrupts_by_task(snapshot)
    return {
        "values": to_jsonable(snapshot.values),
        "interrupts": interrupts,
        "all": to_jsonable(list(snapshot.interrupts)),
        "status": "interrupted" if snapshot.next else "idle",
    }


async def _execute_runnable(
    assistant: Assistant, row: Any, kwargs: dict[str, Any], writer: RunWriter
) -> Outcome:
    runnable = assistant.runnable
    config: Any = copy.deepcopy(kwargs.get("config") or {})
    config["metadata"] = {**config.get("metadata", {}), "run_id": row["run_id"]}
    modes = list(kwargs.get("stream_mode") or ["values"])
    output: Any = None
    if "events" in modes:
        async for event in runnable.astream_events(kwargs.get("input"), config, version="v2"):
            writer.emit("events", dumps(event))
            if event["event"] == "on_chain_end" and not event.get("parent_ids"):
                output = event["data"].get("output")
    else:
        async for chunk in runnable.astream(kwargs.get("input"), config):
            try:
                output = chunk if output is None else output + chunk
            except TypeError:
                output = chunk
            if "updates" in modes or "custom" in modes:
                writer.emit("updates", dumps(chunk))
    output = to_jsonable(output)
    if "values" in modes:
        writer.emit("values", dumps(output))
    return Outcome("success", output=output)

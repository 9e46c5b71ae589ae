"""Database rows as the LangGraph API's JSON objects (Run, Thread)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from langserve_like.runs.db import loads

__all__ = ["iso", "run_to_api", "thread_to_api"]


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat()


def run_to_api(row: Any) -> dict[str, Any]:
    return {
        "run_id": row["run_id"],
        "thread_id": row["thread_id"],
        "assistant_id": row["graph_id"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
        "status": row["status"],
        "metadata": loads(row["metadata"]) or {},
        "kwargs": loads(row["kwargs"]) or {},
        "multitask_strategy": row["multitask_strategy"],
        "attempt": row["attempt"],
    }


def thread_to_api(row: Any) -> dict[str, Any]:
    return {
        "thread_id": row["thread_id"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
        "metadata": loads(row["metadata"]) or {},
        "status": row["status"],
        "values": loads(row["values"]),
        "interrupts": loads(row["interrupts"]) or {},
        "error": loads(row["error"]),
        "config": {},
    }

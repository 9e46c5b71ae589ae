"""I5 for the failure tests: a client that reads a run's stream in segments,
disconnecting after a random number of events and rejoining with Last-Event-ID
(on a random replica), and the check that the segments add up to the stream."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from langgraph_sdk.client import SyncLangGraphClient
from langgraph_sdk.schema import StreamPart


def triples(parts: Sequence[StreamPart]) -> list[tuple[int, str, Any]]:
    return [(int(p.id or 0), p.event, p.data) for p in parts]


def read_in_segments(
    clients: Sequence[SyncLangGraphClient],
    thread_id: str,
    run_id: str,
    rng: random.Random,
    max_segment: int = 4,
) -> tuple[list[StreamPart], int]:
    """Every event of the run, read as segments of 1..`max_segment` events, each
    on a fresh connection to a random one of `clients`; and how many connections."""
    parts: list[StreamPart] = []
    connections = 0
    while not parts or parts[-1].event != "end":
        assert connections < 500, f"run {run_id}: no end after {connections} connections"
        client = rng.choice(clients)
        last = parts[-1].id if parts else "0"
        stream = client.runs.join_stream(thread_id, run_id, last_event_id=last)
        connections += 1
        take = rng.randint(1, max_segment)
        try:
            for part in stream:
                parts.append(part)
                take -= 1
                if take == 0 or part.event == "end":
                    break
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()  # the disconnect
    return parts, connections


def check_resumed(run_id: str, parts: Sequence[StreamPart], whole: Sequence[StreamPart]) -> int:
    """I5: the segments equal the uninterrupted replay, ids strictly increase,
    `end` is last; a retried attempt starts with its metadata. Attempts seen."""
    ids = [int(p.id or 0) for p in parts]
    assert all(a < b for a, b in zip(ids, ids[1:], strict=False)), f"I5: {run_id} ids {ids}"
    assert triples(parts) == triples(whole), f"I5: run {run_id} segments differ from replay"
    assert parts[-1].event == "end", f"I5: run {run_id} ends with {parts[-1].event}"
    metadata = [p.data for p in parts if p.event == "metadata"]
    attempts = [int(m.get("attempt", 0)) for m in metadata if isinstance(m, dict)]
    assert attempts == sorted(set(attempts)), f"I5: run {run_id} attempts {attempts}"
    return len(attempts)

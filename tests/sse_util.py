"""Read SSE responses in tests with httpx-sse (the client's own parser), not by splitting."""

from __future__ import annotations

import json
from typing import Any

import httpx
from httpx_sse import connect_sse


def sse_events(client: httpx.Client, path: str, body: Any) -> list[tuple[str, Any]]:
    """POST `body` to `path` and return [(event, decoded data or None), ...]."""
    with connect_sse(client, "POST", path, json=body) as source:
        source.response.raise_for_status()
        return [(e.event, json.loads(e.data) if e.data else None) for e in source.iter_sse()]


def names(events: list[tuple[str, Any]]) -> list[str]:
    return [name for name, _ in events]

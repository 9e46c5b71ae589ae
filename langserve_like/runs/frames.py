"""One recorded event of a run, and its SSE frame."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SLOW", "Event"]


@dataclass(frozen=True)
class Event:
    seq: int
    event: str
    data: bytes  # JSON

    def frame(self) -> bytes:
        return b"event: %s\r\ndata: %s\r\nid: %d\r\n\r\n" % (
            self.event.encode(),
            self.data,
            self.seq,
        )


SLOW = Event(-1, "error", b'{"error":"slow_consumer","message":"reconnect with Last-Event-ID"}')

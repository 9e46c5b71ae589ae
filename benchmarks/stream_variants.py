"""Variants of langserve_like's streaming path that `stream_cost.py` and
`stream_inproc.py` measure (issue 16).

Each variant monkeypatches one piece of langserve_like, at import time of
`apps/ours_variant.py`, so what a proposed change saves is measured under callgrind
before anyone edits the library. Not used by langserve_like itself, and not a
supported way to run it. The earlier prototypes (the producer writing due frames,
the stream's own task, cached event heads, the fast `frames` loop) are now the
library's own code and were removed from here; RESULTS.md keeps their figures.

`window0` is not a change but a measuring aid: with the 10 ms coalescing window at
0, every frame is its own write, as on the raw route, so the per-chunk difference no
longer depends on how fast valgrind runs on a loaded machine.
"""

from __future__ import annotations

from langserve_like.server import sse

#: Proposed changes, measured on top of `window0`; none is pending now.
VARIANTS: tuple[str, ...] = ()
#: Not a proposed change: every frame its own write, as the raw route does.
NO_COALESCING = "window0"

_ORIGINAL_DEFAULTS = dict(sse.EventStreamResponse.__init__.__kwdefaults__ or {})


def restore() -> None:
    """Undo `apply`: langserve_like as it is."""
    sse.EventStreamResponse.__init__.__kwdefaults__ = dict(_ORIGINAL_DEFAULTS)


def set_window(seconds: float) -> None:
    """The streams' coalescing window for every response made from now on."""
    init = sse.EventStreamResponse.__init__
    init.__kwdefaults__ = {**(init.__kwdefaults__ or {}), "coalesce_window": seconds}


def apply(names: list[str]) -> None:
    """Monkeypatch langserve_like with the named variants (see the module docstring)."""
    restore()
    for name in names:
        if name == NO_COALESCING:
            set_window(0.0)
        elif name:
            known = ", ".join((NO_COALESCING, *VARIANTS))
            raise ValueError(f"unknown variant {name!r}; known: {known}")

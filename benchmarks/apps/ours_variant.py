"""`ours.py` with the variants named in $LANGSERVE_LIKE_BENCH_VARIANTS applied.

Comma-separated names from `benchmarks/stream_variants.py`; `stream_cost.py` starts
one server per set of variants to measure what each proposed change saves.
"""

import os

from benchmarks.stream_variants import apply

apply(os.environ.get("LANGSERVE_LIKE_BENCH_VARIANTS", "").split(","))

from benchmarks.apps.ours import app  # noqa: E402  (after the patches, on purpose)

__all__ = ["app"]

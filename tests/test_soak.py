"""A one-minute soak against a real uvicorn process (`benchmarks/soak.py`).

Thousands of mixed requests (invoke, batch, the three streams, callback events,
errors, rejections, clients leaving mid-run): no unexpected answer, RSS after the
warm-up grows less than 10%, open file descriptors and asyncio tasks return to
their baseline and every run that started was cleaned up. The longer run and its
figures are in benchmarks/SOAK.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.soak import SCENARIOS, run_soak

pytestmark = pytest.mark.live

SECONDS = float(os.environ.get("SOAK_SECONDS", "40"))


def test_soak_memory_fds_and_runs_stay_bounded(tmp_path: Path) -> None:
    result = run_soak(duration=SECONDS, warmup=12, concurrency=8, log_path=tmp_path / "uvicorn.log")
    assert result.problems() == []
    assert result.main.requests >= 1000
    assert set(result.main.by_scenario) == set(SCENARIOS)
    # The disconnect scenarios really ran and really cancelled something.
    assert result.counters["stream_cancelled"] > 0
    assert result.counters["invoke_cancelled"] > 0

"""A client that leaves mid-request stops the run, over a real socket.

The probe app counts, per runnable, runs started, cancelled and `finally` blocks
run; the tests read the counters through `/debug/state` in a bounded poll. After
each case no task is left running and nothing was logged as a crash.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reliability_apps import leave, open_post, poll_until, read_until
from tests.servers import run_uvicorn

pytestmark = pytest.mark.live

STOP_WITHIN = 5.0  # seconds a run may take to notice that its client left


@dataclass
class Probe:
    url: str
    log: Path
    client: httpx.Client
    _seen: int = 0

    def counters(self) -> dict[str, int]:
        state: dict[str, Any] = self.client.get("/debug/state").json()
        return dict(state["counters"])

    def tasks(self) -> int:
        return int(self.client.get("/debug/state").json()["tasks"])

    def wait_for(self, name: str, at_least: int) -> dict[str, int]:
        def reached() -> dict[str, int] | None:
            counters = self.counters()
            return counters if counters.get(name, 0) >= at_least else None

        return poll_until(reached, timeout=STOP_WITHIN, what=f"{name} >= {at_least}")

    def new_log(self) -> str:
        text = self.log.read_text(errors="replace")
        new, self._seen = text[self._seen :], len(text)
        return new


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Probe]:
    log = tmp_path_factory.mktemp("disconnects") / "uvicorn.log"
    with (
        run_uvicorn("tests.reliability_apps:probe_app", log_path=log) as url,
        httpx.Client(base_url=url, timeout=10) as client,
    ):
        yield Probe(url, log, client)


@pytest.fixture
def baseline(probe: Probe) -> Iterator[dict[str, int]]:
    """The counters before the test; afterwards, checks that the server is clean."""
    tasks = probe.tasks()
    probe.new_log()
    yield probe.counters()
    # Every request task ended: the count of live asyncio tasks is back where it was.
    poll_until(
        lambda: True if probe.tasks() <= tasks else None,
        timeout=STOP_WITHIN,
        what=f"asyncio tasks back to {tasks}",
    )
    logged = probe.new_log()
    for crash in ("Traceback", "ERROR", "Exception in ASGI application"):
        assert crash not in logged, logged


def _plus(counters: dict[str, int], name: str, n: int = 1) -> int:
    return counters.get(name, 0) + n


@pytest.mark.parametrize("reset", [False, True], ids=["close", "reset"])
@pytest.mark.parametrize("endpoint", ["stream", "stream_log", "stream_events"])
def test_disconnect_mid_stream_runs_generator_finally(
    probe: Probe, baseline: dict[str, int], endpoint: str, reset: bool
) -> None:
    sock = open_post(probe.url, f"/ticks/{endpoint}", {"input": {"count": 100_000}})
    head = read_until(sock, b"event: data", count=3)
    assert head.startswith(b"HTTP/1.1 200")
    leave(sock, reset=reset)

    after = probe.wait_for("stream_finally", _plus(baseline, "stream_finally"))
    assert after.get("stream_cancelled", 0) == _plus(baseline, "stream_cancelled")
    assert after.get("stream_completed", 0) == baseline.get("stream_completed", 0)


@pytest.mark.parametrize("reset", [False, True], ids=["close", "reset"])
def test_disconnect_before_first_chunk_closes_generator(
    probe: Probe, baseline: dict[str, int], reset: bool
) -> None:
    sock = open_post(probe.url, "/slow_start/stream", {"input": "x"})
    probe.wait_for("first_chunk_started", _plus(baseline, "first_chunk_started"))
    leave(sock, reset=reset)

    probe.wait_for("first_chunk_finally", _plus(baseline, "first_chunk_finally"))


@pytest.mark.parametrize("reset", [False, True], ids=["close", "reset"])
def test_disconnect_mid_invoke_cancels_run(
    probe: Probe, baseline: dict[str, int], reset: bool
) -> None:
    sock = open_post(probe.url, "/slow_invoke/invoke", {"input": "x"})
    probe.wait_for("invoke_started", _plus(baseline, "invoke_started"))
    leave(sock, reset=reset)

    probe.wait_for("invoke_cancelled", _plus(baseline, "invoke_cancelled"))


def test_disconnect_mid_batch_cancels_every_item(probe: Probe, baseline: dict[str, int]) -> None:
    sock = open_post(probe.url, "/slow_invoke/batch", {"inputs": ["a", "b", "c"]})
    probe.wait_for("invoke_started", _plus(baseline, "invoke_started", 3))
    leave(sock)

    probe.wait_for("invoke_cancelled", _plus(baseline, "invoke_cancelled", 3))


def test_disconnect_streams_complete_when_client_stays(
    probe: Probe, baseline: dict[str, int]
) -> None:
    """The counterpart: a client that stays gets every chunk and `end`, nothing cancelled."""
    with probe.client.stream("POST", "/ticks/stream", json={"input": {"count": 5}}) as response:
        text = response.read().decode()
    assert text.count("event: data") == 5
    assert text.endswith("event: end\r\n\r\n")
    after = probe.wait_for("stream_completed", _plus(baseline, "stream_completed"))
    assert after.get("stream_cancelled", 0) == baseline.get("stream_cancelled", 0)

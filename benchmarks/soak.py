"""Soak test: thousands of mixed requests against a real uvicorn process.

Invoke, batch, the three streams, callback events, mapped and unmapped errors,
rejected requests and clients that leave mid-stream, mid-invoke or before the
first chunk, from `concurrency` workers at once. After a warm-up the server's
resident memory (VmRSS) and open file descriptors are taken as the baseline; at the
end memory must have grown less than `max_rss_growth` and the descriptors must be
back to the baseline once the clients have closed their connections. Every run
that started must have been cleaned up (generators closed, invokes cancelled).

    python -m benchmarks.soak --duration 600 --concurrency 16 --json out/soak.json

`tests/test_soak.py` runs a one-minute version in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.servers import free_port, wait_for_port  # noqa: E402

APP = "tests.reliability_apps:probe_app"


# --- the server process ---------------------------------------------------------------


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@contextlib.contextmanager
def uvicorn_process(app: str, log_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A uvicorn process on a free loopback port; stopped (by PID) on exit."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--no-access-log"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            wait_for_port(port, proc)
            yield f"http://127.0.0.1:{port}", proc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


# --- the workload ---------------------------------------------------------------------


class Unexpected(Exception):
    """A request got an answer the scenario did not expect."""


def _events(text: str) -> list[str]:
    return [line[7:] for line in text.splitlines() if line.startswith("event: ")]


async def _post(client: httpx.AsyncClient, path: str, body: Any, status: int) -> httpx.Response:
    response = await client.post(path, json=body)
    if response.status_code != status:
        raise Unexpected(f"{path}: {response.status_code} {response.text[:200]}")
    return response


async def _stream(client: httpx.AsyncClient, path: str, body: Any, last: str) -> None:
    response = await _post(client, path, body, 200)
    events = _events(response.text)
    if not events or events[0] != "metadata" or events[-1] != last:
        raise Unexpected(f"{path}: events {events[:3]}...{events[-2:]}")


async def _leave(url: str, path: str, body: Any, *, after: bytes | float, reset: bool) -> None:
    """Send a request on a raw socket and leave once `after` was read (or seconds passed)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    payload = orjson.dumps(body)
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    await writer.drain()
    if isinstance(after, float):
        await asyncio.sleep(after)
    else:
        seen = b""
        while seen.count(after) < 2:
            chunk = await reader.read(65536)
            if not chunk:
                raise Unexpected(f"{path}: closed early")
            seen += chunk
    if reset:
        writer.transport.abort()
    else:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


Scenario = Callable[[httpx.AsyncClient, str, random.Random], Awaitable[object]]

SCENARIOS: dict[str, tuple[int, Scenario]] = {
    "invoke": (20, lambda c, u, r: _post(c, "/echo/invoke", {"input": f"x{r.random()}"}, 200)),
    "batch": (8, lambda c, u, r: _post(c, "/echo/batch", {"inputs": ["a", "b", "c", "d"]}, 200)),
    "stream_chat": (
        12,
        lambda c, u, r: _stream(c, "/chat/stream", {"input": {"topic": "a"}}, "end"),
    ),
    "stream_events": (
        8,
        lambda c, u, r: _stream(c, "/chat/stream_events", {"input": {"topic": "b"}}, "end"),
    ),
    "stream_log": (
        4,
        lambda c, u, r: _stream(c, "/chat/stream_log", {"input": {"topic": "c"}}, "end"),
    ),
    "callback_events": (
        4,
        lambda c, u, r: _stream(
            c, "/chat/stream", {"input": {"topic": "d"}, "callback_events": True}, "end"
        ),
    ),
    "short_ticks": (4, lambda c, u, r: _stream(c, "/ticks/stream", {"input": {"count": 5}}, "end")),
    "error_429": (5, lambda c, u, r: _post(c, "/fail/invoke", {"input": "rate_limit"}, 429)),
    "error_500": (2, lambda c, u, r: _post(c, "/fail/invoke", {"input": "other"}, 500)),
    "error_mid_stream": (
        4,
        lambda c, u, r: _stream(c, "/fail_midway/stream", {"input": "context"}, "error"),
    ),
    "rejected": (4, lambda c, u, r: _post(c, "/echo/invoke", {"inpt": 1}, 422)),
    "leave_mid_stream": (
        5,
        lambda c, u, r: _leave(
            u,
            "/ticks/stream",
            {"input": {"count": 10_000}},
            after=b"event: data",
            reset=r.random() < 0.5,
        ),
    ),
    "leave_mid_stream_events": (
        3,
        lambda c, u, r: _leave(
            u,
            "/ticks/stream_events",
            {"input": {"count": 10_000}},
            after=b"event: data",
            reset=False,
        ),
    ),
    "leave_mid_invoke": (
        3,
        lambda c, u, r: _leave(
            u, "/slow_invoke/invoke", {"input": "x"}, after=0.3, reset=r.random() < 0.5
        ),
    ),
    "leave_before_first_chunk": (
        2,
        lambda c, u, r: _leave(u, "/slow_start/stream", {"input": "x"}, after=0.3, reset=False),
    ),
}


@dataclass
class Phase:
    requests: int = 0
    seconds: float = 0.0
    by_scenario: dict[str, int] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)


async def run_phase(url: str, duration: float, concurrency: int, seed: int) -> Phase:
    """`concurrency` workers, each picking weighted scenarios until `duration` is over."""
    names = list(SCENARIOS)
    weights = [SCENARIOS[n][0] for n in names]
    phase = Phase()
    deadline = time.monotonic() + duration
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def worker(index: int) -> None:
            rnd = random.Random(seed * 1000 + index)
            while time.monotonic() < deadline:
                name = rnd.choices(names, weights)[0]
                try:
                    await SCENARIOS[name][1](client, url, rnd)
                except (Unexpected, httpx.HTTPError, OSError) as exc:
                    phase.unexpected.append(f"{name}: {exc!r}"[:300])
                phase.requests += 1
                phase.by_scenario[name] = phase.by_scenario.get(name, 0) + 1

        started = time.monotonic()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        phase.seconds = time.monotonic() - started
    return phase


# --- measuring ------------------------------------------------------------------------


def settle(read: Callable[[], int], *, target: int | None = None, timeout: float = 15.0) -> int:
    """Poll `read` until it reaches `target` (or, without one, stops changing)."""
    deadline = time.monotonic() + timeout
    value = read()
    while time.monotonic() < deadline:
        # Polling another process's /proc entries: there is no event to wait on.
        time.sleep(0.25)
        latest = read()
        if (target is not None and latest <= target) or (target is None and latest == value):
            return latest
        value = latest
    return value


def debug_state(url: str) -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=10) as client:
        state: dict[str, Any] = client.get("/debug/state").json()
    return state


@dataclass
class SoakResult:
    warmup: Phase
    main: Phase
    rss_baseline: int
    rss_final: int
    rss_peak: int
    fds_baseline: int
    fds_final: int
    tasks_baseline: int
    tasks_final: int
    counters: dict[str, int]
    crashes_logged: int

    @property
    def rss_growth(self) -> float:
        return (self.rss_final - self.rss_baseline) / self.rss_baseline

    def problems(self, max_rss_growth: float = 0.10) -> list[str]:
        """Everything that makes the soak fail; empty when it passed."""
        found = [f"unexpected answer: {u}" for u in self.main.unexpected[:20]]
        if self.rss_growth >= max_rss_growth:
            found.append(f"RSS grew {self.rss_growth:.1%} (limit {max_rss_growth:.0%})")
        if self.fds_final > self.fds_baseline:
            found.append(f"open fds {self.fds_final} > baseline {self.fds_baseline}")
        if self.tasks_final > self.tasks_baseline:
            found.append(f"asyncio tasks {self.tasks_final} > baseline {self.tasks_baseline}")
        pairs = [
            ("stream_started", "stream_finally"),
            ("invoke_started", "invoke_cancelled"),
            ("first_chunk_started", "first_chunk_finally"),
        ]
        for started, ended in pairs:
            if self.counters.get(started, 0) != self.counters.get(ended, 0):
                found.append(
                    f"{started}={self.counters.get(started)} {ended}={self.counters.get(ended)}"
                )
        if self.crashes_logged:
            found.append(f"{self.crashes_logged} crash(es) logged by uvicorn")
        return found

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data["rss_growth"] = round(self.rss_growth, 4)
        data["requests_per_second"] = round(self.main.requests / self.main.seconds, 1)
        return data


def run_soak(
    *,
    duration: float,
    warmup: float,
    concurrency: int = 8,
    seed: int = 7,
    log_path: Path,
    sample: Callable[[int, int], None] | None = None,
) -> SoakResult:
    """Warm up, take the baseline, soak for `duration` seconds, measure again."""
    with uvicorn_process(APP, log_path) as (url, proc):
        pid = proc.pid
        warm = asyncio.run(run_phase(url, warmup, concurrency, seed))
        # Baseline once the warm-up's connections are closed and its runs cleaned up.
        tasks_baseline = int(settle(lambda: int(debug_state(url)["tasks"])))
        fds_baseline = settle(lambda: open_fds(pid))
        rss_baseline = rss_bytes(pid)

        peak = rss_baseline

        async def main_with_sampling() -> Phase:
            nonlocal peak
            work = asyncio.ensure_future(run_phase(url, duration, concurrency, seed + 1))
            while not work.done():
                await asyncio.wait({work}, timeout=1.0)
                rss = rss_bytes(pid)
                peak = max(peak, rss)
                if sample is not None:
                    sample(rss, open_fds(pid))
            return work.result()

        main = asyncio.run(main_with_sampling())
        tasks_final = int(settle(lambda: int(debug_state(url)["tasks"]), target=tasks_baseline))
        fds_final = settle(lambda: open_fds(pid), target=fds_baseline)
        rss_final = rss_bytes(pid)
        counters = dict(debug_state(url)["counters"])
    logged = log_path.read_text(errors="replace")
    return SoakResult(
        warmup=warm,
        main=main,
        rss_baseline=rss_baseline,
        rss_final=rss_final,
        rss_peak=peak,
        fds_baseline=fds_baseline,
        fds_final=fds_final,
        tasks_baseline=tasks_baseline,
        tasks_final=tasks_final,
        counters=counters,
        crashes_logged=logged.count("Exception in ASGI application"),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600, help="seconds of soak")
    parser.add_argument("--warmup", type=float, default=30, help="seconds before the baseline")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--log", type=Path, default=Path("benchmarks/out/soak-uvicorn.log"))
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    args.log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    def show(rss: int, fds: int) -> None:
        elapsed = time.monotonic() - started
        if int(elapsed) % 30 == 0:
            print(f"{elapsed:7.0f}s  rss {rss / 2**20:7.1f} MiB  fds {fds}", flush=True)

    result = run_soak(
        duration=args.duration,
        warmup=args.warmup,
        concurrency=args.concurrency,
        seed=args.seed,
        log_path=args.log,
        sample=show,
    )
    summary = result.summary()
    print(json.dumps(summary, indent=1, default=str))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=1, default=str) + "\n")
    problems = result.problems()
    for problem in problems:
        print("FAIL:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())

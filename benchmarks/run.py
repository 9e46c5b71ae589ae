"""One command: benchmark langserve_like against LangServe 0.3.3 and a hand-written floor.

    python benchmarks/run.py            # full run, about 12 minutes on 2 cores
    python benchmarks/run.py --quick    # shorter runs, for a first look

Starts the three servers (benchmarks/apps/) serving the same runnables, drives them
alternately and prints one Markdown table of figures and ratios to the floor;
`benchmarks/out/` keeps the table, the raw JSON and the server logs. See README.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.apps import CHUNKS, JOKE, SLOW_CHUNKS
from benchmarks.clients import Http, concurrent_streams, time_to_first_event, wrk
from benchmarks.servers import ROOT, Server

OUT = ROOT / "benchmarks" / "out"
NAMES = ("ours", "langserve", "floor")
# The bare routes (apps/bare.py) answer these, and are only measured under callgrind.
BARE_SCENARIOS = ("invoke", "batch10", "chat", "invoke_sync", "batch10_sync")
# Measured under callgrind only: the bare routes, the orjson floor and the raw route
# (apps/raw.py), which every callgrind row is also reported against.
CALLGRIND_ONLY = ("bare", "floor_orjson", "raw")
RAW_COLUMNS = ("ours", "langserve", "floor", "floor_orjson")


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    path: str
    body: bytes
    check: Callable[[bytes], bool]
    callgrind_requests: int
    wrk: bool = True  # False: instructions only (keeps the run short)


def _output(expected: Any) -> Callable[[bytes], bool]:
    return lambda raw: json.loads(raw)["output"] == expected


def _sse(min_data: int) -> Callable[[bytes], bool]:
    return lambda raw: raw.count(b"event: data") >= min_data and raw.endswith(b"event: end\r\n\r\n")


SCENARIOS = (
    Scenario(
        "invoke", "invoke (async typed lambda)", "/lambda/invoke", b'{"input": 1}', _output(2), 60
    ),
    Scenario(
        "batch10",
        "batch of 10 (async lambda)",
        "/lambda/batch",
        json.dumps({"inputs": list(range(10))}).encode(),
        _output(list(range(1, 11))),
        30,
    ),
    Scenario(
        "chat",
        "prompt | fake chat | parser invoke",
        "/chat/invoke",
        b'{"input": {"topic": "cats"}}',
        _output(JOKE),
        30,
    ),
    Scenario(
        "invoke_sync",
        "invoke (sync lambda: a thread-pool hop)",
        "/lambda_sync/invoke",
        b'{"input": 1}',
        _output(2),
        60,
        wrk=False,
    ),
    Scenario(
        "batch10_sync",
        "batch of 10 (sync lambda)",
        "/lambda_sync/batch",
        json.dumps({"inputs": list(range(10))}).encode(),
        _output(list(range(1, 11))),
        30,
        wrk=False,
    ),
    Scenario("stream", "/stream, 100 chunks", "/gen/stream", b'{"input": "go"}', _sse(CHUNKS), 10),
    Scenario(
        "stream_events",
        "/stream_events, 100 chunks",
        "/gen/stream_events",
        b'{"input": "go"}',
        _sse(CHUNKS),
        6,
    ),
    Scenario(
        "stream_log",
        "/stream_log, 100 chunks",
        "/gen/stream_log",
        b'{"input": "go"}',
        _sse(CHUNKS),
        4,
    ),
)

# (scenario or test, metric) -> the most ours/floor may be.
TARGETS: dict[tuple[str, str], float] = {
    ("invoke", "ir"): 0.95,
    ("batch10", "ir"): 0.95,
    ("chat", "ir"): 0.95,
    ("stream", "ir"): 0.80,
    ("stream", "cpu"): 0.80,
    ("stream_events", "ir"): 0.90,
    ("stream_events", "cpu"): 0.90,
    ("first_event", "ttfe"): 1.0,
    ("slow", "peak_rss"): 1.0,
}
METRICS = {
    "ir": "instructions / request (callgrind)",
    "cpu": "server CPU µs / request, c=64 (/proc)",
    "rps_1": "requests/s, c=1",
    "p50_1": "p50 ms, c=1",
    "p99_1": "p99 ms, c=1",
    "rps_64": "requests/s, c=64",
    "p50_64": "p50 ms, c=64",
    "p99_64": "p99 ms, c=64",
}

Results = dict[str, dict[str, dict[str, float]]]  # scenario -> metric -> server -> value


def make_servers(ours_python: str, langserve_python: str) -> list[Server]:
    return [
        Server("ours", ours_python, "benchmarks.apps.ours:app"),
        Server("langserve", langserve_python, "benchmarks.apps.langserve_app:app"),
        # The floor runs in LangServe's virtualenv for sse-starlette 1.8 (README.md).
        Server("floor", langserve_python, "benchmarks.apps.floor:app"),
        Server("bare", ours_python, "benchmarks.apps.bare:app"),
        Server("floor_orjson", langserve_python, "benchmarks.apps.floor_orjson:app"),
        Server("raw", ours_python, "benchmarks.apps.raw:app"),
    ]


def rotated(servers: list[Server], turn: int) -> list[Server]:
    """Each round starts with a different server, so no one always goes first."""
    turn %= len(servers)
    return servers[turn:] + servers[:turn]


def log(message: str) -> None:
    print(f"[{datetime.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def verify(server: Server, scenarios: tuple[Scenario, ...], times: int = 3) -> None:
    """Same answers from every server, and warm caches/lazy imports before measuring."""
    client = Http(server.port)
    try:
        for scenario in scenarios:
            for _ in range(times):
                status, raw = client.post(scenario.path, scenario.body)
                if status != 200 or not scenario.check(raw):
                    raise RuntimeError(
                        f"{server.name} {scenario.path} answered {status}: {raw[:300]!r}"
                    )
    finally:
        client.close()


def instructions(
    server: Server, client: Http, scenario: Scenario, count: int, keep: Path | None = None
) -> float:
    """Instructions per request of `scenario` on a server under callgrind (after two
    unmeasured requests); `keep` keeps the dump for callgrind_annotate."""
    for _ in range(2):
        client.post(scenario.path, scenario.body)
    server.callgrind_zero()
    for _ in range(count):
        status, raw = client.post(scenario.path, scenario.body)
        if status != 200 or not scenario.check(raw):
            raise RuntimeError(f"{server.name} {scenario.path}: {raw[:300]!r}")
    return server.callgrind_dump(keep) / count


def callgrind_phase(
    servers: list[Server],
    results: Results,
    scale: float,
    time_scale: float = 1.0,
    processes: int = 1,
    spread: dict[str, dict[str, list[float]]] | None = None,
) -> None:
    """Each server's instructions per request, the median of `processes` fresh
    processes (each figure of each process goes to `spread`, scenario -> server).

    One process is one draw: the same server moves by up to ~1 % between processes
    (a different hash seed and address layout leave glibc's heap in another shape,
    and the same allocations cost more or less), so a ratio near a line needs several.
    """
    for server in servers:
        figures: dict[str, list[float]] = defaultdict(list)
        for _ in range(processes):
            _callgrind_process(server, scale, time_scale, figures)
        for key, values in figures.items():
            results[key]["ir"][server.name] = statistics.median(values)
            if spread is not None:
                spread.setdefault(key, {})[server.name] = values


def _callgrind_process(
    server: Server, scale: float, time_scale: float, figures: dict[str, list[float]]
) -> None:
    log(f"callgrind: starting {server.name} under valgrind")
    # apps/ours.py scales its clocks by valgrind's slowdown when asked (its docstring).
    os.environ["LSL_BENCH_TIME_SCALE"] = str(time_scale)
    try:
        server.start(OUT, callgrind=True)
    finally:
        del os.environ["LSL_BENCH_TIME_SCALE"]
    scenarios = tuple(s for s in SCENARIOS if server.name != "bare" or s.key in BARE_SCENARIOS)
    try:
        verify(server, scenarios, times=2)
        server.callgrind_on()
        client = Http(server.port, timeout=600)
        for scenario in scenarios:
            count = max(2, round(scenario.callgrind_requests * scale))
            per_request = instructions(server, client, scenario, count)
            figures[scenario.key].append(per_request)
            log(f"callgrind: {server.name} {scenario.key}: {per_request:,.0f} Ir/request")
        client.close()
    finally:
        server.stop()


def slow_streams_phase(servers: list[Server], results: Results, count: int) -> None:
    for server in servers:
        server.reset_peak_rss()
        before = server.rss_kib()
        outcome = concurrent_streams(server.port, "/slow/stream", b'{"input": "go"}', count)
        peak = server.peak_rss_kib()
        slow = results["slow"]
        slow["completed"][server.name] = outcome.completed
        slow["peak_rss"][server.name] = peak / 1024
        slow["rss_before"][server.name] = before / 1024
        slow["seconds"][server.name] = outcome.seconds
        log(
            f"slow: {server.name}: {outcome.completed}/{count} complete in "
            f"{outcome.seconds:.1f}s, RSS {before / 1024:.0f} -> peak {peak / 1024:.0f} MB"
        )


def wrk_phase(servers: list[Server], results: Results, rounds: int, seconds: float) -> None:
    samples: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for turn in range(rounds):
        for scenario in [s for s in SCENARIOS if s.wrk]:
            for connections in (1, 64):
                for server in rotated(servers, turn + connections):
                    for _attempt in range(2):  # a busy machine can stall one short run
                        cpu_before = server.cpu_seconds()
                        run = wrk(server.port, scenario.path, scenario.body, connections, seconds)
                        cpu = server.cpu_seconds() - cpu_before
                        if run.requests and not run.errors:
                            break
                        log(f"wrk: {server.name} {scenario.key} c={connections}: {run}")
                    else:
                        raise RuntimeError(f"wrk failed twice on {server.name} {scenario.key}")
                    key = (scenario.key, server.name)
                    c = str(connections)
                    samples[(*key, f"rps_{c}")].append(run.rps)
                    samples[(*key, f"p50_{c}")].append(run.p50_ms)
                    samples[(*key, f"p99_{c}")].append(run.p99_ms)
                    if connections == 64:
                        samples[(*key, "cpu")].append(cpu / run.requests * 1e6)
            log(f"wrk: round {turn + 1}/{rounds} {scenario.key} done")
    for (scenario_key, name, metric), values in samples.items():
        results[scenario_key][metric][name] = statistics.median(values)


def first_event_phase(servers: list[Server], results: Results, samples: int) -> None:
    times: dict[str, list[float]] = defaultdict(list)
    for turn in range(samples):
        for server in rotated(servers, turn):
            elapsed = time_to_first_event(server.port, "/gen/stream", b'{"input": "go"}')
            times[server.name].append(elapsed * 1e3)
    for name, values in times.items():
        results["first_event"]["ttfe"][name] = statistics.median(values)


def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 100_000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}" if value < 10 else f"{value:.1f}"


def table(results: Results) -> tuple[str, bool]:
    """The Markdown table, and whether every target was met."""
    labels = {s.key: s.label for s in SCENARIOS}
    labels |= {
        "first_event": "time to first data event",
        "slow": f"concurrent slow streams ({SLOW_CHUNKS} × 1 s)",
    }
    metric_labels = {
        **METRICS,
        "ttfe": "median ms, /stream of the 100-chunk generator",
        "completed": "streams completed (all events, then end)",
        "peak_rss": "peak RSS MB (VmHWM)",
        "rss_before": "RSS MB before",
        "seconds": "seconds for all to finish",
    }
    lines = [
        "| scenario | metric | ours | LangServe | floor | ours/floor | LangServe/floor"
        " | target | met |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    all_met = True
    for key, metrics in results.items():
        for metric, values in metrics.items():
            ours, theirs, floor = (values.get(n) for n in NAMES)
            ratio = ours / floor if ours is not None and floor else None
            their_ratio = theirs / floor if theirs is not None and floor else None
            target = TARGETS.get((key, metric))
            met = ""
            if target is not None:
                ok = ratio is not None and ratio <= target
                met = "yes" if ok else "**no**"
                all_met &= ok
            if metric == "completed":
                ok = all(values.get(n) == values.get("expected") for n in NAMES)
                met = "yes" if ok else "**no**"
                all_met &= ok
            label = labels.get(key, key).replace("|", "\\|")
            lines.append(
                f"| {label} | {metric_labels.get(metric, metric)} "
                f"| {_fmt(ours)} | {_fmt(theirs)} | {_fmt(floor)} "
                f"| {f'{ratio:.2f}×' if ratio else '–'} "
                f"| {f'{their_ratio:.2f}×' if their_ratio else '–'} "
                f"| {f'≤ {target:.2f}×' if target else ''} | {met} |"
            )
    return "\n".join(lines), all_met


def bare_table(results: Results) -> str:
    """Instructions of the bare routes: the least a route on this FastAPI app can cost."""
    lines = [
        "| scenario | bare | floor | bare/floor | ours/floor |",
        "|---|---:|---:|---:|---:|",
    ]
    for key in BARE_SCENARIOS:
        values = results.get(key, {}).get("ir", {})
        bare, ours, floor = values.get("bare"), values.get("ours"), values.get("floor")
        if bare is None or not floor:
            continue
        label = next(s.label for s in SCENARIOS if s.key == key).replace("|", "\\|")
        ours_ratio = f"{ours / floor:.2f}×" if ours is not None else "–"
        lines.append(
            f"| {label} | {_fmt(bare)} | {_fmt(floor)} | {bare / floor:.2f}× | {ours_ratio} |"
        )
    return "\n".join(lines)


def raw_table(results: Results) -> str:
    """Instructions per response of every server, and each as a ratio to the raw route."""
    names = ", ".join(RAW_COLUMNS)
    lines = [
        f"| scenario | raw | {' | '.join(RAW_COLUMNS)} | {names} (÷ raw) |",
        "|---|---:|" + "---:|" * len(RAW_COLUMNS) + "---|",
    ]
    for scenario in SCENARIOS:
        values = results.get(scenario.key, {}).get("ir", {})
        raw = values.get("raw")
        if not raw:
            continue
        figures = " | ".join(_fmt(values.get(n)) for n in RAW_COLUMNS)
        ratios = " / ".join(
            f"{values[n] / raw:.3f}×" if values.get(n) is not None else "–" for n in RAW_COLUMNS
        )
        label = scenario.label.replace("|", "\\|")
        lines.append(f"| {label} | {_fmt(raw)} | {figures} | {ratios} |")
    return "\n".join(lines)


def spread_table(spread: dict[str, dict[str, list[float]]]) -> str:
    """Every process's figure per scenario and server (`--processes`)."""
    names = sorted({name for by_server in spread.values() for name in by_server})
    lines = [f"| scenario | {' | '.join(names)} |", "|---|" + "---|" * len(names)]
    for scenario in SCENARIOS:
        by_server = spread.get(scenario.key)
        if not by_server:
            continue
        cells = [" / ".join(_fmt(v) for v in by_server.get(n, [])) or "–" for n in names]
        lines.append(f"| {scenario.label.replace('|', chr(92) + '|')} | {' | '.join(cells)} |")
    return "\n".join(lines)


def machine() -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": f"{os.cpu_count()} × {cpu}",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (noisier)")
    parser.add_argument("--rounds", type=int, help="wrk rounds per scenario (default 3)")
    parser.add_argument("--seconds", type=int, help="seconds per wrk run (default 3)")
    parser.add_argument("--streams", type=int, default=1000, help="concurrent slow streams")
    parser.add_argument(
        "--only",
        choices=("callgrind", "slow", "wrk", "first_event"),
        action="append",
        help="run only these phases (repeatable)",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="under callgrind, langserve_like's watch delay and coalescing window times this "
        "(valgrind's slowdown, ~50, gives the native timing; default 1: as shipped)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="under callgrind, measure each server in this many fresh processes and "
        "report the median (callgrind_phase's docstring)",
    )
    parser.add_argument(
        "--server",
        choices=(*NAMES, *CALLGRIND_ONLY),
        action="append",
        help="measure only these (repeatable)",
    )
    bench_python = ROOT / ".venv-bench" / "bin" / "python"
    parser.add_argument(
        "--python",
        default=str(bench_python) if bench_python.exists() else sys.executable,
        help="runs langserve_like (default: .venv-bench from scripts/install-bench)",
    )
    parser.add_argument(
        "--langserve-python", default=str(ROOT / ".venv-langserve" / "bin" / "python")
    )
    args = parser.parse_args()
    for tool in ("wrk", "valgrind", "callgrind_control", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: run scripts/install-bench")
    if not Path(args.langserve_python).exists():
        sys.exit(f"{args.langserve_python} is missing: run scripts/install-compat")
    os.sched_setaffinity(0, {1})  # the clients; the servers get core 0
    rounds = args.rounds or (1 if args.quick else 3)
    seconds = args.seconds or (2 if args.quick else 3)
    phases = set(args.only or ("callgrind", "slow", "wrk", "first_event"))
    results: Results = defaultdict(lambda: defaultdict(dict))
    servers = [
        s
        for s in make_servers(args.python, args.langserve_python)
        if not args.server or s.name in args.server
    ]
    started = datetime.datetime.now()
    spread: dict[str, dict[str, list[float]]] = {}

    if "callgrind" in phases:
        callgrind_phase(
            servers,
            results,
            0.5 if args.quick else 1.0,
            args.time_scale,
            args.processes,
            spread,
        )
    servers_by_name = {s.name: s for s in servers}
    servers = [s for s in servers if s.name not in CALLGRIND_ONLY]
    if phases - {"callgrind"}:
        try:
            for server in servers:
                server.start(OUT)
                verify(server, SCENARIOS)
                log(f"started {server.name} on port {server.port} (pid {server.pid})")
            if "slow" in phases:  # first, while the processes are fresh
                results["slow"]["completed"]["expected"] = args.streams
                slow_streams_phase(servers, results, args.streams)
            if "wrk" in phases:
                wrk_phase(servers, results, rounds, seconds)
            if "first_event" in phases:
                first_event_phase(servers, results, 60 if args.quick else 200)
        finally:
            for server in servers:
                server.stop()

    ordered: Results = {}
    for key in [s.key for s in SCENARIOS] + ["first_event", "slow"]:
        if key in results:
            ordered[key] = {
                m: results[key][m] for m in [*METRICS, *results[key]] if m in results[key]
            }
    text, all_met = table(ordered)
    if "bare" in servers_by_name and "callgrind" in phases:
        text += "\n\n" + bare_table(ordered)
    if "raw" in servers_by_name and "callgrind" in phases:
        text += "\n\nEvery server against the raw route (instructions / response):\n\n"
        text += raw_table(ordered)
    if args.processes > 1:
        text += "\n\nEach process (instructions / response, in the order measured):\n\n"
        text += spread_table(spread)
    info = machine()
    header = (
        f"{started:%Y-%m-%d %H:%M} · commit {info['commit']} · {info['cpu']} · "
        f"Linux {info['kernel']} · Python {info['python']} · "
        f"command: `{' '.join(['python3', 'benchmarks/run.py', *sys.argv[1:]])}`"
    )
    report = f"{header}\n\n{text}\n\nAll targets met: {'yes' if all_met else 'no'}\n"
    print(report)
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = f"{started:%Y%m%d-%H%M%S}"
    (OUT / f"results-{stamp}.md").write_text(report)
    (OUT / f"results-{stamp}.json").write_text(
        json.dumps(
            {"machine": info, "args": sys.argv[1:], "results": ordered, "processes": spread},
            indent=2,
        )
    )
    return 0 if all_met else 1


if __name__ == "__main__":
    sys.exit(main())

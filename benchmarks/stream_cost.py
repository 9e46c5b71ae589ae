"""Where langserve_like's streamed chunks cost more than the raw route's (issue 16).

    python benchmarks/stream_cost.py                 # about 5 minutes on 2 cores
    python benchmarks/stream_cost.py --requests 4    # quicker

Under callgrind, like `run.py`'s first phase: the raw Starlette route
(`apps/raw.py`), langserve_like as it is, and langserve_like with each proposed
change of `stream_variants.py` applied alone and all together (`apps/ours_variant.py`),
each serving `/gen` (100 chunks). Prints instructions per response and per chunk
above the raw route, what each change saves, and the interpreter-level functions
(`callgrind_annotate`, exclusive cost) that account for the difference between
langserve_like and the raw route. See RESULTS.md, "Streaming cost against the raw
route (issue 16)".
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.apps import CHUNKS
from benchmarks.clients import Http
from benchmarks.run import OUT, SCENARIOS, instructions, log, machine, verify
from benchmarks.servers import Server
from benchmarks.stream_inproc import runs
from benchmarks.stream_variants import NO_COALESCING

STREAMS = ("stream", "stream_events", "stream_log")
_LINE = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*)$")


def measure(server: Server, keys: tuple[str, ...], requests: int) -> dict[str, float]:
    """Instructions per response for each scenario; the /stream dump is kept."""
    scenarios = tuple(s for s in SCENARIOS if s.key in keys)
    server.start(OUT, callgrind=True)
    figures: dict[str, float] = {}
    try:
        verify(server, scenarios, times=2)
        server.callgrind_on()
        client = Http(server.port, 600)
        for scenario in scenarios:
            keep = OUT / f"stream-cost.{server.name}.{scenario.key}.out"
            figures[scenario.key] = instructions(server, client, scenario, requests, keep)
            log(f"{server.name} {scenario.key}: {figures[scenario.key]:,.0f} Ir/response")
        client.close()
    finally:
        server.stop()
    return figures


def functions(dump: Path) -> dict[str, int]:
    """Exclusive instructions per function (callgrind_annotate, no truncation)."""
    text = subprocess.run(
        ["callgrind_annotate", "--threshold=100", "--auto=no", str(dump)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    costs: dict[str, int] = defaultdict(int)
    for line in text.splitlines():
        match = _LINE.match(line)
        if match and ":" in match.group(2):
            name = match.group(2).split(" [", 1)[0]
            costs[name.rsplit(":", 1)[-1]] += int(match.group(1).replace(",", ""))
    return costs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=8, help="responses measured per row")
    parser.add_argument("--scenario", choices=STREAMS, action="append")
    parser.add_argument("--top", type=int, default=25, help="functions listed")
    parser.add_argument(
        "--only", action="append", help="measure only these runs (raw and ours+window0 always)"
    )
    bench_python = Path(__file__).resolve().parent.parent / ".venv-bench" / "bin" / "python"
    parser.add_argument(
        "--python", default=str(bench_python if bench_python.exists() else sys.executable)
    )
    args = parser.parse_args()
    keys = tuple(args.scenario or STREAMS)
    os.sched_setaffinity(0, {1})
    # The changes are measured on top of `window0` (every frame its own write, as on
    # the raw route): with the coalescing window on, how many frames share a write
    # depends on valgrind's speed on the machine at the time.
    base = f"ours+{NO_COALESCING}"
    wanted = {*(args.only or ()), "raw", base}
    chosen = [(n, v) for n, v in runs() if not args.only or n in wanted]
    results: dict[str, dict[str, float]] = {}
    for name, variants in chosen:
        app = "benchmarks.apps.raw:app" if name == "raw" else "benchmarks.apps.ours_variant:app"
        os.environ["LANGSERVE_LIKE_BENCH_VARIANTS"] = variants
        safe = name.replace("+", "_")
        results[name] = measure(Server(safe, args.python, app), keys, args.requests)

    info = machine()
    print(f"commit {info['commit']} · {info['cpu']} · Python {info['python']}\n")
    print("| server | " + " | ".join(keys) + " | per chunk above raw (" + ", ".join(keys) + ") |")
    print("|---|" + "---:|" * len(keys) + "---|")
    raw = results["raw"]
    for name, figures in results.items():
        cells = " | ".join(f"{figures[k]:,.0f} ({figures[k] / raw[k]:.3f}×)" for k in keys)
        above = ", ".join(f"{(figures[k] - raw[k]) / CHUNKS:,.0f}" for k in keys)
        print(f"| {name} | {cells} | {above} |")
    print(f"\nSaved per chunk by each change ({base} − {base}+change) / {CHUNKS}:\n")
    for name in [n for n in results if n.startswith(f"{base}+")]:
        saved = ", ".join(
            f"{k} {(results[base][k] - results[name][k]) / CHUNKS:,.0f}" for k in keys
        )
        print(f"- {name}: {saved}")

    for key in keys:
        ours = functions(OUT / f"stream-cost.{base.replace('+', '_')}.{key}.out")
        raw_costs = functions(OUT / f"stream-cost.raw.{key}.out")
        diff = sorted(
            ((ours.get(f, 0) - raw_costs.get(f, 0), f) for f in set(ours) | set(raw_costs)),
            reverse=True,
        )
        total = sum(d for d, _ in diff) / args.requests / CHUNKS
        print(f"\n{key}: exclusive instructions per chunk, {base} − raw (total {total:,.0f}):\n")
        for delta, name in diff[: args.top]:
            print(f"  {delta / args.requests / CHUNKS:9,.0f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

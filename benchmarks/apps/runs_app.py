"""The runs benchmark's server: a one-node graph served with `runs=True`.

`BENCH_RUNS_DB` names the SQLite file (the benchmark passes a fresh one) or a
`postgresql://` database; `BENCH_RUNS_REDIS`, if set, a Redis for the streams.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI
from langgraph.graph import START, StateGraph
from typing_extensions import TypedDict

from langserve_like import Runs, add_routes


class State(TypedDict):
    n: int


def bump(state: State) -> dict[str, Any]:
    return {"n": state["n"] + 1}


graph = StateGraph(State).add_node("bump", bump).add_edge(START, "bump").compile()

app = FastAPI()
runs = Runs(database=os.environ.get("BENCH_RUNS_DB"), redis=os.environ.get("BENCH_RUNS_REDIS"))
add_routes(app, graph, path="/trivial", runs=runs)

r"""Example 15: threads and durable background runs, with a human approval step.

Serves the graph `/review` twice over: the LangServe endpoints (`/review/invoke`, ...)
and, because of `runs=True`, the LangGraph server's API at the app root (`/threads`,
`/threads/{id}/runs/...`, `/assistants`, `/store`, `/ok`), so LangGraph's own SDK
(`pip install langgraph-sdk`) talks to it with `assistant_id="review"`. Threads, runs,
checkpoints and events live in one SQLite file (`RUNS_DB`, default
`./.langserve_like/runs.db`): a run accepted with a 2xx survives a crash of the server.

The graph drafts a post, then stops at `interrupt()` for a human to approve or edit it;
the run ends and the thread's status is `interrupted` until a second run resumes it
with `command={"resume": ...}`. No model or API key: the draft is a template.

Needs the runs extra: `pip install "langserve-like[runs]"`. Run one of:

    python examples/16_threads_and_runs.py
    langserve-like serve examples/16_threads_and_runs.py:app

Then:

    curl -s localhost:8000/threads -H 'Content-Type: application/json' -d '{}'
    # -> {"thread_id": "T", ...}
    curl -s localhost:8000/threads/T/runs/wait -H 'Content-Type: application/json' \
      -d '{"assistant_id": "review", "input": {"topic": "SQLite"}}'
    # -> {..., "__interrupt__": [{"value": {"draft": "...", "question": "Publish?"}, ...}]}
    curl -s localhost:8000/threads/T/runs/wait -H 'Content-Type: application/json' \
      -d '{"assistant_id": "review", "command": {"resume": "yes"}}'
    curl -N localhost:8000/threads/T/runs/stream -H 'Content-Type: application/json' \
      -d '{"assistant_id": "review", "input": {"topic": "WAL"}, "stream_mode": ["updates"]}'

Or from Python:

    from langgraph_sdk import get_sync_client
    client = get_sync_client(url="http://127.0.0.1:8000")
    thread = client.threads.create()
    client.runs.wait(thread["thread_id"], "review", input={"topic": "SQLite"})
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict

from langserve_like import Runs, add_routes


class Post(TypedDict, total=False):
    topic: str
    draft: str
    verdict: str
    published: str


def write(state: Post) -> dict[str, Any]:
    return {"draft": f"Why {state['topic']} is enough for most apps."}


def review(state: Post) -> dict[str, Any]:
    # The run stops here; a later run's `command={"resume": answer}` continues it.
    answer = interrupt({"draft": state["draft"], "question": "Publish? (yes, or an edit)"})
    return {
        "verdict": "approved" if answer == "yes" else "edited",
        "draft": (state["draft"] if answer == "yes" else str(answer)),
    }


def publish(state: Post) -> dict[str, Any]:
    return {"published": state["draft"]}


graph = (
    StateGraph(Post)
    .add_node("write", write)
    .add_node("review", review)
    .add_node("publish", publish)
    .add_edge(START, "write")
    .add_edge("write", "review")
    .add_edge("review", "publish")
    .add_edge("publish", END)
    .compile()  # no checkpointer: runs=True provides the SQLite one
)

app = FastAPI(title="Threads and runs")
add_routes(app, graph, path="/review", runs=Runs(database=os.environ.get("RUNS_DB")))

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)

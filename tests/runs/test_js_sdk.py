"""LangGraph.js's SDK (@langchain/langgraph-sdk) against a real server with runs=True.

`js/probe.mjs` makes the calls in one Node run and prints what they returned;
`scripts/install-runs-js` installs the SDK (CI runs it from `scripts/test`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

JS_DIR = Path(__file__).resolve().parent / "js"
SDK = JS_DIR / "node_modules" / "@langchain" / "langgraph-sdk" / "package.json"


def _require(path: Path | None, what: str) -> None:
    """Skip locally when the SDK is not installed; never skip in CI."""
    if path is not None and path.exists():
        return
    message = f"{what} missing; run scripts/install-runs-js"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def probe(server: str) -> dict[str, Any]:
    node = shutil.which("node")
    _require(Path(node) if node else None, "Node.js")
    _require(SDK, "@langchain/langgraph-sdk (npm)")
    proc = subprocess.run(
        ["node", str(JS_DIR / "probe.mjs"), server],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_js_sdk_assistants_and_graph(probe: dict[str, Any]) -> None:
    assert {"echo", "steps", "approve"} <= set(probe["assistants"])
    assert {"a", "b", "c"} <= set(probe["graphNodes"])


def test_js_sdk_wait_stream_create_join(probe: dict[str, Any]) -> None:
    assert probe["wait"] == {"messages": ["hi", "echo: hi"]}
    assert [e for e, _ in probe["stream"]] == ["metadata", "values", "updates", "values", "end"]
    assert probe["stream"][2][1] == {"echo": {"messages": ["echo: yo"]}}
    assert probe["join"]["messages"][-2:] == ["bg", "echo: bg"]
    assert probe["runStatus"] == "success"
    assert probe["runsListed"] == 3
    assert probe["state"] == probe["join"]
    assert probe["history"] > 3
    assert probe["searched"] == 1


def test_js_sdk_join_stream_resumes_after_last_event_id(probe: dict[str, Any]) -> None:
    assert probe["replayAfter1"] == ["values", "values", "end"]


def test_js_sdk_interrupt_resume_and_store(probe: dict[str, Any]) -> None:
    [interrupt] = probe["interrupt"]["__interrupt__"]
    assert interrupt["value"] == {"question": "approve ship?"}
    assert probe["threadStatus"] == "interrupted"
    assert probe["resumed"] == {"request": "ship", "answer": "ok"}
    assert probe["item"] == {"v": 1}

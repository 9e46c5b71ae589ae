"""Every python and curl snippet in README.md and docs/ runs against what the README starts.

Client snippets (curl, `RemoteRunnable`) run against real uvicorn servers: the demo
(`langserve-like demo`, the README's first command, on port 8000 in the text) and the
LangGraph section's `graph_server.py` (port 8001 in the text) and the runs section's
server (port 8002, with its lifespan, so threads and runs work). Server snippets (those
that define `app`) are executed and their app is called.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.servers import ROOT, run_uvicorn

README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
GRAPH_SECTION = "## Serving LangGraph graphs"
RUNS_SECTION = "## Threads and background runs"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


@dataclass(frozen=True)
class Snippet:
    where: str  # file:line, for the test id
    kind: str  # "python" or "curl"
    code: str
    section: str

    def __str__(self) -> str:
        return self.where


def _section(text: str, position: int) -> str:
    headings = re.findall(r"^## .*$", text[:position], re.M)
    return headings[-1] if headings else ""


def _curl_commands(block: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", block)
    return [line.strip() for line in joined.splitlines() if line.strip().startswith("curl ")]


def _snippets(path: Path) -> list[Snippet]:
    text = path.read_text()
    found: list[Snippet] = []
    for match in _FENCE.finditer(text):
        where = f"{path.name}:{text[: match.start()].count(chr(10)) + 1}"
        section = _section(text, match.start())
        lang, body = match.group(1), match.group(2)
        if lang == "python":
            found.append(Snippet(where, "python", body, section))
        elif lang in ("bash", "sh", "console", ""):
            found += [Snippet(where, "curl", c, section) for c in _curl_commands(body)]
    prose = _FENCE.sub("", text)
    for match in re.finditer(r"`(curl [^`]+)`", prose):
        where = f"{path.name}:prose"
        found.append(Snippet(where, "curl", match.group(1), _section(prose, match.start())))
    return found


SNIPPETS = [snippet for path in DOCS for snippet in _snippets(path)]
SERVERS = [s for s in SNIPPETS if s.kind == "python" and re.search(r"^app = ", s.code, re.M)]
CLIENTS = [s for s in SNIPPETS if s not in SERVERS]


def test_readme_starts_with_the_two_fresh_machine_commands() -> None:
    first_block = re.search(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    assert first_block is not None
    commands = [
        line for line in first_block.group(1).splitlines() if line and not line.startswith("#")
    ]
    demo = (
        'python3 -m venv .venv && .venv/bin/pip install -e ".[server]"'
        " && .venv/bin/langserve-like demo"
    )
    assert commands == [demo, "bash scripts/test"]
    assert "bash scripts/test" in (README.parent / ".ci" / "run").read_text()


def test_readme_snippets_are_all_found() -> None:
    assert len([s for s in CLIENTS if s.kind == "python"]) >= 2
    assert len([s for s in CLIENTS if s.kind == "curl"]) >= 6
    for snippet in CLIENTS:
        assert re.search(r"(127\.0\.0\.1|localhost):800[012]", snippet.code), snippet


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """{"8000": demo URL, "8001": the LangGraph section's server, "8002": the runs one}."""
    folder = tmp_path_factory.mktemp("readme_servers")
    for name, section in (("graph_server", GRAPH_SECTION), ("runs_server", RUNS_SECTION)):
        [server] = [s for s in SERVERS if s.section == section]
        (folder / f"{name}.py").write_text(server.code)
    with (
        run_uvicorn("langserve_like.demo:create_app", extra_args=["--factory"]) as demo,
        run_uvicorn("graph_server:app", cwd=folder) as graph,
        run_uvicorn("runs_server:app", cwd=folder) as runs,
    ):
        yield {"8000": demo, "8001": graph, "8002": runs}


def _pointed_at(code: str, servers: dict[str, str]) -> str:
    for port, url in servers.items():
        host_port = url.removeprefix("http://")
        code = code.replace(f"127.0.0.1:{port}", host_port).replace(f"localhost:{port}", host_port)
    return code


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)


@pytest.mark.live
@pytest.mark.parametrize("snippet", CLIENTS, ids=str)
def test_readme_client_snippet_runs_against_the_readme_servers(
    snippet: Snippet, servers: dict[str, str]
) -> None:
    code = _pointed_at(snippet.code, servers)
    if snippet.kind == "python":
        done = _run([sys.executable, "-c", code])
    else:
        # --fail-with-body: an HTTP error status fails the snippet, not only a dead socket.
        strict = code.replace("curl ", "curl -sS --fail-with-body --max-time 60 ", 1)
        done = _run(["bash", "-c", strict])
    assert done.returncode == 0, f"{snippet}\n{done.stdout}\n{done.stderr}"
    assert done.stdout.strip(), snippet
    if "/stream" in code:
        assert "event: end" in done.stdout


def _app(snippet: Snippet) -> Any:
    """Runs a server snippet as the module `server.py` it would be saved as."""
    module = types.ModuleType("server")
    sys.modules["server"] = module  # dataclasses and pydantic look their module up
    try:
        exec(compile(snippet.code, snippet.where, "exec"), module.__dict__)
    finally:
        del sys.modules["server"]
    return module.app


@pytest.mark.parametrize("snippet", SERVERS, ids=str)
def test_readme_server_snippet_serves_its_routes(snippet: Snippet) -> None:
    client = TestClient(_app(snippet))
    paths = client.get("/openapi.json").json()["paths"]
    schemas = [p for p in paths if p.endswith("/input_schema") and "{" not in p]
    assert schemas
    for path in schemas:
        assert client.get(path).status_code == 200


def _server(section: str, needle: str) -> TestClient:
    [snippet] = [
        s
        for s in SERVERS
        if s.where.startswith("README.md") and s.section == section and needle in s.code
    ]
    return TestClient(_app(snippet))


def test_readme_quickstart_server_serves_the_joke_as_text() -> None:
    client = _server("## Quickstart", "GenericFakeChatModel")
    output = client.post("/joke/invoke", json={"input": {"topic": "cats"}}).json()["output"]
    assert output == "Why did the cat cross the keyboard?"
    streamed = client.post("/joke/stream", json={"input": {"topic": "cats"}}).text
    assert streamed.count("event: data") > 5


def test_readme_offline_docs_snippet_serves_swagger_ui_itself() -> None:
    client = _server("## Endpoints", "FastAPIOffline")
    page = client.get("/docs").text
    assert "cdn" not in page.lower()
    assert client.post("/upper/invoke", json={"input": "hi"}).json()["output"] == "HI"


def test_readme_security_error_mapper_snippet_maps_to_429() -> None:
    [snippet] = [s for s in SERVERS if "map_provider_errors" in s.code]
    client = TestClient(_app(snippet))
    busy = client.post("/echo/invoke", json={"input": "busy"})
    assert busy.status_code == 429
    assert busy.headers["retry-after"] == "10"
    assert client.post("/echo/invoke", json={"input": "hi"}).json()["output"] == "hi"

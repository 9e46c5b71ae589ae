"""The README's server snippet really serves what the README says."""

import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


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


def test_readme_server_snippet_serves_the_joke_route() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(_python_blocks()[0], "README.md", "exec"), namespace)
    client = TestClient(namespace["app"])
    output = client.post("/joke/invoke", json={"input": {"topic": "cats"}}).json()["output"]
    assert output["type"] == "ai"
    assert output["content"].startswith("Why did the cat")
    streamed = client.post("/joke/stream", json={"input": {"topic": "cats"}}).text
    assert streamed.count("event: data") > 5

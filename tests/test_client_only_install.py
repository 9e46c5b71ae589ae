"""The bare package is a working client: no FastAPI, no sse-starlette.

Runs in .venv-client-only, which `scripts/install-client-only` creates with only
the dependencies in `[project].dependencies` (no `server` extra).
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.servers import ROOT

CLIENT_ONLY_PYTHON = ROOT / ".venv-client-only" / "bin" / "python"

SCRIPT = textwrap.dedent(
    """
    import importlib.util
    import sys

    import httpx

    import langserve_like
    from langserve_like import RemoteRunnable

    for server_only in ("fastapi", "starlette", "sse_starlette", "uvicorn"):
        assert importlib.util.find_spec(server_only) is None, server_only

    def server(request):
        if request.url.path.endswith("/invoke"):
            return httpx.Response(200, json={"output": {"content": "hi", "type": "ai",
                                  "additional_kwargs": {}}, "metadata": {}})
        frames = b'event: data\\r\\ndata: {"a": 1}\\r\\n\\r\\nevent: end\\r\\n\\r\\n'
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=frames)

    remote = RemoteRunnable("http://server/chain",
                            client=httpx.Client(transport=httpx.MockTransport(server)))
    assert type(remote.invoke(1)).__name__ == "AIMessage"
    assert [type(c).__name__ for c in remote.stream(1)] == ["AddableDict"]
    try:
        langserve_like.add_routes
    except ImportError as exc:
        assert "langserve-like[server]" in str(exc), exc
    else:
        raise AssertionError("add_routes imported without the server extra")
    print("ok")
    """
)


def test_client_only_install_imports_and_calls_without_fastapi(tmp_path: Path) -> None:
    if not CLIENT_ONLY_PYTHON.exists():
        message = f"{CLIENT_ONLY_PYTHON} missing; run scripts/install-client-only"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)

    # From an empty directory, so the checkout itself is not on sys.path.
    proc = subprocess.run(
        [str(CLIENT_ONLY_PYTHON), "-c", SCRIPT],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "ok\n", "")

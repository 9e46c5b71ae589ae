"""Helpers shared by the client compatibility suites: locate the real clients, run
a probe script, and reduce its answers to what must match between servers."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.servers import ROOT

COMPAT_DIR = ROOT / "tests" / "compat"
LANGSERVE_PYTHON = ROOT / ".venv-langserve" / "bin" / "python"
JS_DIR = COMPAT_DIR / "js"
JS_CLIENT = JS_DIR / "node_modules" / "@langchain" / "core" / "package.json"
PROBE_TIMEOUT = 120.0

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")
_LOOPBACK = re.compile(r"127\.0\.0\.1:\d+")


def require_installed(path: Path, what: str) -> None:
    """Skip locally when `scripts/install-compat` has not run; never skip in CI."""
    if path.exists():
        return
    message = f"{what} missing ({path}); run scripts/install-compat"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def run_probe(cmd: list[str], *, cwd: Path = ROOT) -> dict[str, Any]:
    """Run a probe script and parse the JSON document it prints."""
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=PROBE_TIMEOUT)
    assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}):\n{proc.stderr}"
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def normalize(value: Any) -> Any:
    """Mask what legitimately differs between two servers answering the same call.

    Run ids, message ids and timestamps are fresh per request, ports differ,
    internal `__*` metadata (LangServe leaks it into stream_log)
    is not part of the contract.
    """
    if isinstance(value, str):
        value = _UUID.sub("<uuid>", value)
        value = _TIMESTAMP.sub("<time>", value)
        return _LOOPBACK.sub("<host>", value)
    if isinstance(value, dict):
        return {
            key: normalize(item)
            for key, item in value.items()
            if key == "__class__" or not key.startswith("__")
        }
    if isinstance(value, list):
        return [normalize(item) for item in value]
    return value


STREAM_ERROR = {"status_code": 500, "message": "Internal Server Error"}


def stream_error(data: str) -> dict[str, Any]:
    """The SSE `error` payload minus extras (we add the run id; LangServe does not)."""
    payload = json.loads(data)
    return {key: payload.get(key) for key in STREAM_ERROR}


def comparable(answer: dict[str, Any], *, unordered: bool = False) -> dict[str, Any]:
    """One probe answer as it must be identical on both servers.

    Error message texts may differ, so only the exception class and status survive.
    `unordered` sorts stream chunks whose order the runnable does not fix (RunnableParallel).
    """
    view = normalize(answer)
    if "error" in view:
        view["error"] = {k: v for k, v in view["error"].items() if k in ("class", "status_code")}
    if unordered and "chunks" in view:
        view["chunks"] = sorted(view["chunks"], key=lambda c: json.dumps(c, sort_keys=True))
    return view

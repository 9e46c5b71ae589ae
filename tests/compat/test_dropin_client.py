"""Swapping `langserve.RemoteRunnable` for ours changes nothing code can observe.

Every scenario of `dropin_scenarios.py` (injected httpx clients and `.url`;
`prompt | RemoteRunnable(chat model)`; prompt values and replayed callbacks;
timeouts by httpx class; extra keyword arguments) is made by the official client
(LangServe 0.3.3, its own virtualenv) and by ours, against a real LangServe 0.3.3
server and against a langserve_like server; each pair of answers must be equal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from langserve_like import RemoteRunnable
from tests.compat.dropin_scenarios import SCENARIOS, run_one
from tests.compat.harness import LANGSERVE_PYTHON, require_installed, run_probe
from tests.servers import run_uvicorn

pytestmark = pytest.mark.compat

SERVERS = {
    "langserve": ("tests.compat.langserve_apps:app", str(LANGSERVE_PYTHON)),
    "langserve_like": ("tests.client_app:app", None),
}


@pytest.fixture(scope="module", params=sorted(SERVERS))
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    app, python = SERVERS[request.param]
    require_installed(LANGSERVE_PYTHON, "LangServe 0.3.3 virtualenv")
    with run_uvicorn(app, **({"python": python} if python else {})) as url:
        yield url


@pytest.fixture(scope="module")
def official(server: str) -> dict[str, Any]:
    """What LangServe's own client observes on this server, per scenario."""
    return run_probe([str(LANGSERVE_PYTHON), "-m", "tests.compat.dropin_scenarios", server])


@pytest.mark.anyio
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_remote_runnable_observed_like_langserve_client(
    scenario: str, server: str, official: dict[str, Any]
) -> None:
    ours = json.loads(json.dumps(await run_one(SCENARIOS[scenario], RemoteRunnable, server)))

    assert ours == official[scenario]

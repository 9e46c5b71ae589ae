from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.compat.harness import LANGSERVE_PYTHON, require_installed
from tests.servers import run_uvicorn


@pytest.fixture(scope="module")
def our_url() -> Iterator[str]:
    """Base URL of the zoo served by langserve_like (one process per module)."""
    with run_uvicorn("tests.compat.our_apps:app") as url:
        yield url


@pytest.fixture(scope="module")
def langserve_url() -> Iterator[str]:
    """Base URL of the same zoo served by the real LangServe 0.3.3."""
    require_installed(LANGSERVE_PYTHON, "LangServe 0.3.3 virtualenv")
    with run_uvicorn("tests.compat.langserve_zoo:app", python=str(LANGSERVE_PYTHON)) as url:
        yield url

import pytest


@pytest.fixture
def anyio_backend() -> str:
    # langchain-core is asyncio-based.
    return "asyncio"

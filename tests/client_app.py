"""The routes `tests/compat/client_scenarios.py` calls, served by langserve_like.

Used in process (`httpx.ASGITransport`, Starlette's `TestClient`) and over a real
socket (`run_uvicorn("tests.client_app:app")`). It serves the same runnables as
`tests/compat/langserve_apps.py` serves with LangServe, plus routes only the
langserve_like client tests need.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from langchain_core.runnables import RunnableGenerator, RunnableLambda

from langserve_like import add_routes
from tests.compat.client_scenarios import all_routes
from tests.compat.zoo import fail_midway, routes


def _echo(x: Any) -> Any:
    return x


app = FastAPI()
for path, (runnable, options) in all_routes().items():
    add_routes(app, runnable, path=path, **options)
# Callback events of a chain with a chat model (LangServe cannot send them).
add_routes(app, routes()["/chat_str"], path="/chat_callbacks", include_callback_events=True)
add_routes(
    app, RunnableGenerator(fail_midway), path="/fail_callbacks", include_callback_events=True
)
add_routes(app, RunnableLambda(_echo), path="/echo")

"""The routes `client_scenarios.py` calls, served by the real LangServe 0.3.3.

Run only with .venv-langserve/bin/python (LangServe pins sse-starlette < 2):
`run_uvicorn("tests.compat.langserve_apps:app", python=LANGSERVE_PYTHON)`.
"""

from __future__ import annotations

from fastapi import FastAPI
from langserve import add_routes

from tests.compat.client_scenarios import all_routes

app = FastAPI()
for path, (runnable, options) in all_routes().items():
    add_routes(app, runnable, path=path, **options)

"""The zoo served by the real LangServe 0.3.3: the reference the probes compare with.

Run only with .venv-langserve/bin/python (LangServe pins sse-starlette < 2).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from langserve import add_routes

from tests.compat.zoo import ROUTER_PATH, ROUTER_PREFIX, router_runnable, routes

app = FastAPI()
for path, runnable in routes().items():
    add_routes(app, runnable, path=path)

router = APIRouter(prefix=ROUTER_PREFIX)
add_routes(router, router_runnable(), path=ROUTER_PATH)
app.include_router(router)

"""The compatibility zoo served by langserve_like (twin of `langserve_zoo.py`).

uvicorn tests.compat.our_apps:app
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from langserve_like import add_routes
from tests.compat.zoo import ROUTER_PATH, ROUTER_PREFIX, router_runnable, routes

app = FastAPI()
for path, runnable in routes().items():
    add_routes(app, runnable, path=path)

router = APIRouter(prefix=ROUTER_PREFIX)
add_routes(router, router_runnable(), path=ROUTER_PATH)
app.include_router(router)

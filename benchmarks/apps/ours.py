"""langserve_like serving the benchmark runnables: one `add_routes` per runnable."""

from fastapi import FastAPI

from benchmarks.apps.runnables import routes
from langserve_like import add_routes

app = FastAPI()
for path, runnable in routes().items():
    add_routes(app, runnable, path=path)

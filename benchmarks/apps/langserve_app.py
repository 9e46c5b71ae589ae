"""LangServe 0.3.3 serving the benchmark runnables (run it from .venv-langserve)."""

from fastapi import FastAPI
from langserve import add_routes

from benchmarks.apps.runnables import routes

app = FastAPI()
for path, runnable in routes().items():
    add_routes(app, runnable, path=path)

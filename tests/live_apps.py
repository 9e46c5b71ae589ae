"""An app served over a real socket by the server-core streaming tests."""

from __future__ import annotations

from fastapi import FastAPI
from langchain_core.runnables import RunnableLambda

from langserve_like import add_routes
from tests import runnables

app = FastAPI()
add_routes(app, runnables.failing_stream(), path="/fail_stream")
add_routes(app, runnables.joke_text_chain(), path="/joke")
add_routes(app, RunnableLambda(runnables.fail), path="/fail")
add_routes(app, RunnableLambda(runnables.add_one), path="/add_one")

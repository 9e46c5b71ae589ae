"""`dropin_zoo` served by the real LangServe 0.3.3 (run with .venv-langserve's python)."""

from fastapi import FastAPI
from langserve import add_routes
from langserve.serialization import Serializer

from tests.compat.dropin_zoo import mount

app = FastAPI()
mount(app, add_routes, Serializer)

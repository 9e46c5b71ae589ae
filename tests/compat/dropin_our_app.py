"""`dropin_zoo` served by langserve_like (twin of `dropin_langserve_app.py`)."""

from fastapi import FastAPI

from langserve_like import add_routes
from langserve_like.serialization import Serializer
from tests.compat.dropin_zoo import mount

app = FastAPI()
mount(app, add_routes, Serializer)

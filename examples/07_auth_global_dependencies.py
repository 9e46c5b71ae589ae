r"""Example 7: authentication for the whole app with a global FastAPI dependency.

Every route of the app, the runnable's endpoints, its playground and the API docs,
requires HTTP Basic credentials (`AUTH_USER` / `AUTH_PASSWORD`, default
`demo` / `demo-password`). Browsers ask for them once, then send them with every
request of the playground. FastAPI's built-in `/docs` and `/openapi.json` skip app
dependencies, so they are switched off and served again below as ordinary,
protected routes.

The chain is `prompt | GenericFakeChatModel | parser` (langchain-core's fake chat
model, cycling through canned replies); see example 1 for a real model.

Run one of:

    python examples/07_auth_global_dependencies.py
    langserve-like serve examples/07_auth_global_dependencies.py:app

Then:

    curl -N -u demo:demo-password http://127.0.0.1:8000/joke/stream \
      -H 'Content-Type: application/json' -d '{"input": {"topic": "locks"}}'
    curl -i http://127.0.0.1:8000/joke/invoke \
      -H 'Content-Type: application/json' -d '{"input": {"topic": "locks"}}'   # 401
"""

from __future__ import annotations

import itertools
import os
import secrets
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from langserve_like import add_routes

USER = os.environ.get("AUTH_USER", "demo")
PASSWORD = os.environ.get("AUTH_PASSWORD", "demo-password")

basic = HTTPBasic(realm="langserve-like example")


def require_login(credentials: Annotated[HTTPBasicCredentials, Depends(basic)]) -> None:
    # compare_digest on both: the time taken does not reveal how much matched.
    user_ok = secrets.compare_digest(credentials.username.encode(), USER.encode())
    password_ok = secrets.compare_digest(credentials.password.encode(), PASSWORD.encode())
    if not (user_ok and password_ok):
        raise HTTPException(401, "Wrong user or password", {"WWW-Authenticate": "Basic"})


app = FastAPI(
    title="Global auth",
    dependencies=[Depends(require_login)],
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
)

# Strings, not AIMessage objects: the model makes a fresh message from each one.
model = GenericFakeChatModel(
    messages=itertools.cycle(
        [
            "Why do locks never get lonely? They always have a key person in their life.",
            "I told my password a joke. It did not get it: it was not strong enough.",
        ]
    )
)
chain = ChatPromptTemplate.from_template("Tell me a joke about {topic}") | model | StrOutputParser()
add_routes(app, chain, path="/joke")


@app.get("/openapi.json", include_in_schema=False)
def openapi() -> dict[str, Any]:
    return app.openapi()


@app.get("/docs", include_in_schema=False)
def docs() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="openapi.json", title="Global auth - docs")


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)

r"""Example 8: authentication for some routes only, with `add_routes(dependencies=...)`.

`/public` is open; `/private` needs an `X-API-Key` header (`API_KEY`, default
`secret-key`). The dependency covers all of `/private`'s endpoints (invoke, batch,
the streams, the schemas, the playground) and, being a FastAPI security scheme,
shows up in `/docs` as an "Authorize" button.

Browsers cannot add a header when they open a page, so `/private/playground/` needs
a client that sends it (or use HTTP Basic as in example 7).

The chains use langchain-core's `GenericFakeChatModel` with canned replies.

Run one of:

    python examples/08_auth_path_dependencies.py
    langserve-like serve examples/08_auth_path_dependencies.py:app

Then:

    curl -N http://127.0.0.1:8000/public/stream \
      -H 'Content-Type: application/json' -d '{"input": "hello"}'
    curl -N http://127.0.0.1:8000/private/stream -H 'X-API-Key: secret-key' \
      -H 'Content-Type: application/json' -d '{"input": "hello"}'
    curl -i http://127.0.0.1:8000/private/invoke \
      -H 'Content-Type: application/json' -d '{"input": "hello"}'   # 401
"""

from __future__ import annotations

import itertools
import os
import secrets
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import APIKeyHeader
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.output_parsers import StrOutputParser

from langserve_like import add_routes

API_KEY = os.environ.get("API_KEY", "secret-key")

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


def require_api_key(key: Annotated[str | None, Depends(api_key_header)]) -> None:
    if key is None or not secrets.compare_digest(key.encode(), API_KEY.encode()):
        raise HTTPException(401, "Missing or wrong X-API-Key header")


# Strings, not AIMessage objects: the model makes a fresh message from each one.
public_model = GenericFakeChatModel(
    messages=itertools.repeat("Public answer: anyone can see this.")
)
private_model = GenericFakeChatModel(
    messages=itertools.repeat("Private answer: only API key holders see this.")
)

app = FastAPI(title="Path auth")
add_routes(app, public_model | StrOutputParser(), path="/public")
add_routes(
    app,
    private_model | StrOutputParser(),
    path="/private",
    dependencies=[Depends(require_api_key)],
)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)

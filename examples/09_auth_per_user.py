r"""Example 9: per-user authentication and data in `per_req_config_modifier`.

Serves `/notes`: input a search string, output the signed-in user's matching notes.
There is no dependency here: the config modifier itself authenticates (HTTP Basic,
users in `USERS`), answers 401 when that fails, and puts the user into
`configurable.user_id`. The runnable reads it from its config and only ever looks
at that user's notes. Whatever `user_id` the client sends is overwritten.

The modifier runs for every endpoint of the route, the schemas and the playground
included; the browser asks for the password, then the playground works.

Run one of:

    python examples/09_auth_per_user.py
    langserve-like serve examples/09_auth_per_user.py:app

Then:

    curl -u alice:alice-password http://127.0.0.1:8000/notes/invoke \
      -H 'Content-Type: application/json' -d '{"input": "tea"}'
    curl -N -u bob:bob-password http://127.0.0.1:8000/notes/stream \
      -H 'Content-Type: application/json' -d '{"input": ""}'
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.security import HTTPBasic
from langchain_core.runnables import RunnableConfig, RunnableLambda

from langserve_like import add_routes

USERS = {"alice": "alice-password", "bob": "bob-password"}  # use a real user store
NOTES = [
    ("alice", "Buy green tea and oat milk."),
    ("alice", "Call the plumber on Monday."),
    ("bob", "Tea with Alice on Friday."),
    ("bob", "Renew the passport."),
]

basic = HTTPBasic(realm="notes")


async def authenticate(config: dict[str, Any], request: Request) -> dict[str, Any]:
    """per_req_config_modifier: 401 unless the password is right, else set the user."""
    credentials = await basic(request)  # raises 401 when the header is missing
    expected = USERS.get(credentials.username if credentials else "", "")
    if not (credentials and expected and secrets.compare_digest(credentials.password, expected)):
        raise HTTPException(401, "Wrong user or password", {"WWW-Authenticate": "Basic"})
    configurable = {**config.get("configurable", {}), "user_id": credentials.username}
    return {**config, "configurable": configurable}


def find_notes(query: str, config: RunnableConfig) -> list[str]:
    user = config.get("configurable", {}).get("user_id")
    if not user:  # served without the modifier: show nothing rather than everything
        return []
    words = query.lower().split()
    return [
        text for owner, text in NOTES if owner == user and all(w in text.lower() for w in words)
    ]


notes = RunnableLambda(find_notes, name="notes").with_types(input_type=str, output_type=list[str])

app = FastAPI(title="Per-user auth")
add_routes(app, notes, path="/notes", per_req_config_modifier=authenticate)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)

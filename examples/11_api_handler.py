r"""Example 11: `APIHandler` behind hand-written FastAPI routes, with per-user filtering.

`add_routes` is a shortcut; `APIHandler` is the engine behind it. Here the routes
are written by hand, so each can take FastAPI dependencies and use their return
value: the bearer token is turned into a user, and the handler runs the runnable
with `server_config={"configurable": {"user_id": user}}`, which the client cannot
override. The runnable only returns documents that user may see: their own and the
shared ones.

Only the endpoints written below exist (invoke, batch, stream, stream_events and
the schemas); the wire format is LangServe's, so `RemoteRunnable` clients work
unchanged:

    RemoteRunnable("http://127.0.0.1:8000/documents",
                   headers={"Authorization": "Bearer alice-token"})

Run one of:

    python examples/11_api_handler.py
    langserve-like serve examples/11_api_handler.py:app

Then:

    curl http://127.0.0.1:8000/documents/invoke -H 'Authorization: Bearer alice-token' \
      -H 'Content-Type: application/json' -d '{"input": "plan"}'
    curl -N http://127.0.0.1:8000/documents/stream -H 'Authorization: Bearer bob-token' \
      -H 'Content-Type: application/json' -d '{"input": "plan"}'
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from langchain_core.documents import Document
from langchain_core.runnables import RunnableConfig, RunnableLambda

from langserve_like import APIHandler

TOKENS = {"alice-token": "alice", "bob-token": "bob"}  # use a real token check
DOCUMENTS = [
    Document("Holiday plan: two weeks in Lisbon.", metadata={"owner": "alice"}),
    Document("Salary review notes.", metadata={"owner": "alice"}),
    Document("Plan for the garden shed.", metadata={"owner": "bob"}),
    Document("Office plan: the kitchen moves to the 2nd floor.", metadata={"owner": "shared"}),
]

bearer = HTTPBearer(auto_error=False)


def current_user(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    token = credentials.credentials if credentials else ""
    for known, user in TOKENS.items():
        if secrets.compare_digest(token.encode(), known.encode()):
            return user
    raise HTTPException(401, "Missing or unknown bearer token", {"WWW-Authenticate": "Bearer"})


User = Annotated[str, Depends(current_user)]


def search(query: str, config: RunnableConfig) -> list[Document]:
    """The user's and the shared documents that contain every word of the query."""
    user = config.get("configurable", {}).get("user_id")
    words = query.lower().split()
    return [
        doc
        for doc in DOCUMENTS
        if doc.metadata["owner"] in (user, "shared")
        and all(w in doc.page_content.lower() for w in words)
    ]


documents = RunnableLambda(search, name="documents").with_types(
    input_type=str, output_type=list[Document]
)
handler = APIHandler(documents, path="/documents")
app = FastAPI(title="APIHandler with per-user filtering")


def as_user(user: str) -> RunnableConfig:
    return {"configurable": {"user_id": user}}


@app.post("/documents/invoke")
async def invoke(request: Request, user: User) -> Response:
    return await handler.invoke(request, server_config=as_user(user))


@app.post("/documents/batch")
async def batch(request: Request, user: User) -> Response:
    return await handler.batch(request, server_config=as_user(user))


@app.post("/documents/stream")
async def stream(request: Request, user: User) -> Response:
    return await handler.stream(request, server_config=as_user(user))


@app.post("/documents/stream_events")
async def stream_events(request: Request, user: User) -> Response:
    return await handler.stream_events(request, server_config=as_user(user))


@app.get("/documents/input_schema")
async def input_schema(request: Request) -> Response:
    return await handler.input_schema(request)


@app.get("/documents/output_schema")
async def output_schema(request: Request) -> Response:
    return await handler.output_schema(request)


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)

"""A stand-in for the LangSmith API, enough for token feedback: both compat servers
trace to it, so LangServe 0.3.3 sends feedback tokens (without LangSmith it answers
500 on every endpoint of a `token_feedback_config` route).

uvicorn tests.compat.fake_langsmith:app
"""

from typing import Any

from fastapi import FastAPI, Request

EXPIRES_AT = "2030-01-01T00:00:00+00:00"

app = FastAPI()


@app.post("/feedback/tokens")
async def feedback_token(request: Request) -> dict[str, Any]:
    body = await request.json()
    url = f"https://langsmith.invalid/feedback/tokens/{body['id']}"
    return {"id": body["id"], "url": url, "expires_at": EXPIRES_AT}


@app.api_route("/{path:path}", methods=["GET", "POST", "PATCH", "PUT"])
async def anything_else(path: str) -> dict[str, Any]:
    # Traces and the client's `/info` call: accepted, nothing kept.
    return {}

"""A loopback reverse proxy that rewrites paths, for the "behind a proxy" mount.

Run as `tests.browser.proxy:app` with PROXY_BACKEND (the backend's base URL) and
PROXY_PREFIX (e.g. `/proxied`) in the environment. `{PREFIX}/x` is forwarded to
`{BACKEND}/x` with the prefix stripped; the backend learns the prefix only from
uvicorn's `--root-path`, as behind a real path-rewriting proxy. Status, headers
(`Location` included, untouched) and the body pass through, the body chunk by chunk
as it arrives so server-sent events keep streaming. Anything outside the prefix is a
404, so a page URL that escapes the prefix fails loudly.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
import httpx

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

BACKEND = os.environ.get("PROXY_BACKEND", "http://127.0.0.1:1")
PREFIX = os.environ.get("PROXY_PREFIX", "/proxied")
# Hop-by-hop headers describe one connection, not the message; a proxy drops them.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}

_client: httpx.AsyncClient | None = None


def client() -> httpx.AsyncClient:
    global _client
    if _client is None:
        _client = httpx.AsyncClient(base_url=BACKEND, timeout=None)
    return _client


async def read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return body
        body += bytes(message.get("body", b""))
        if not message.get("more_body", False):
            return body


async def not_found(send: Send) -> None:
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b"outside the proxy prefix"})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return  # uvicorn runs this with --lifespan off; nothing else arrives
    raw_path: bytes = scope["raw_path"]
    prefix = PREFIX.encode()
    if not (raw_path == prefix or raw_path.startswith(prefix + b"/")):
        await not_found(send)
        return
    target = (raw_path[len(prefix) :] or b"/").decode("latin-1")
    if scope["query_string"]:
        target += "?" + scope["query_string"].decode("latin-1")
    headers = [
        (k.decode("latin-1"), v.decode("latin-1"))
        for k, v in scope["headers"]
        if k.decode("latin-1").lower() not in HOP_BY_HOP | {"host", "content-length"}
    ]
    body = await read_body(receive)
    request = client().build_request(scope["method"], target, headers=headers, content=body)
    response = await client().send(request, stream=True)
    try:
        async with anyio.create_task_group() as tasks:

            async def stop_on_disconnect() -> None:
                # A browser that aborts (Stop/Esc) must end the upstream request too.
                while (await receive())["type"] != "http.disconnect":
                    pass
                tasks.cancel_scope.cancel()

            tasks.start_soon(stop_on_disconnect)
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": [
                        (k, v)
                        for k, v in response.headers.raw
                        if k.decode("latin-1").lower() not in HOP_BY_HOP
                    ],
                }
            )
            # Raw bytes: a gzip body stays gzip, matching the passed-through headers.
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            tasks.cancel_scope.cancel()
    finally:
        await response.aclose()

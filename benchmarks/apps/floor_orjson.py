"""The floor with orjson: `floor.py`'s hand-written FastAPI routes as LangServe encodes.

Same routes and the same sse-starlette 1.8.2 `EventSourceResponse` (it runs in
LangServe's virtualenv, like `floor.py`), but every payload is `orjson.dumps`, and
invoke and batch answer with a plain `Response` holding orjson bytes rather than
`JSONResponse` (which encodes with the standard library's `json`).
"""

from typing import Any

import orjson
from fastapi.responses import Response

from benchmarks.apps.floor import build


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def _answer(content: Any) -> Response:
    return Response(orjson.dumps(content), media_type="application/json")


app = build(_dumps, _answer)

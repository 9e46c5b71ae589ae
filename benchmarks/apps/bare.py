"""The least any library can do on a FastAPI app: raw ASGI routes, nothing else.

Not a server anyone should run: no validation, no config, no error handling, no
disconnect handling, no schemas. It reads the body, calls `ainvoke` / `abatch` with
a fresh run id per input and writes orjson, through the same FastAPI app (its
middleware and router) as the other servers. What it costs is the part of a request
that no library mounted on FastAPI can avoid with this langchain-core; the
benchmark measures it under callgrind only (`run.py`, "bare" rows). The same JSON
routes as `raw.py`, without its streaming routes, as measured before `raw` existed.
"""

from fastapi import FastAPI

from benchmarks.apps.raw import serve_json
from benchmarks.apps.runnables import routes

app = FastAPI()
for _path, _runnable in routes().items():
    if _path in ("/lambda", "/chat", "/lambda_sync"):
        serve_json(app, _path, _runnable)

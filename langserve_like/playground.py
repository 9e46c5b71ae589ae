"""Serves a route's playground: static files plus one small JSON info document.

The page is hand-written HTML/CSS/ES modules shipped as package data; nothing is
templated into it. It fetches `info.json` (below) and the route's schema endpoints,
and derives every URL from its own location, so it works under `root_path`, router
prefixes and path-rewriting proxies. Responses carry a strict Content-Security-Policy,
an ETag (revalidated with `Cache-Control: no-cache`, since there is no build step to
content-hash file names) and a gzip variant when the client accepts it.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from langserve_like.handler import APIHandler

__all__ = ["CSP", "INFO_FILE", "playground_dir", "playground_response"]

INFO_FILE = "info.json"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}

# Served files are plain names in one flat folder. Anything else, including `..`,
# `%2e%2e` (already decoded by the router), absolute paths, sub-folders and NUL,
# simply does not match and gets a 404 without touching the filesystem.
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9]+)")

_COMMON_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def playground_dir() -> Path:
    """Where the playground files are: in the wheel, or in a source checkout."""
    packaged = Path(__file__).resolve().parent / "_playground"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "playground"


@dataclass(frozen=True)
class _Asset:
    stamp: tuple[int, int]
    body: bytes
    gzipped: bytes
    etag: str
    content_type: str


_cache: dict[Path, _Asset] = {}


def _asset(path: Path) -> _Asset | None:
    """The file's bytes, gzip variant and ETag, re-read only when the file changes."""
    try:
        stat = path.stat()
    except OSError:
        return None
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _cache.get(path)
    if cached is not None and cached.stamp == stamp:
        return cached
    body = path.read_bytes()
    asset = _Asset(
        stamp=stamp,
        body=body,
        gzipped=gzip.compress(body, compresslevel=9, mtime=0),
        etag=hashlib.sha256(body).hexdigest()[:20],
        content_type=CONTENT_TYPES[path.suffix],
    )
    _cache[path] = asset
    return asset


def _not_found() -> Response:
    return Response("Not Found", status_code=404, media_type="text/plain")


def _etag_matches(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match", "")
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return etag in tags or "*" in tags


def _send(request: Request, body: bytes, headers: dict[str, str]) -> Response:
    """GET, HEAD (headers only) or 304, from one full set of headers."""
    if _etag_matches(request, headers["ETag"]):
        keep = {k: v for k, v in headers.items() if k != "Content-Type"}
        return Response(status_code=304, headers=keep)
    headers["Content-Length"] = str(len(body))
    if request.method == "HEAD":
        return Response(status_code=200, headers=headers)
    return Response(body, status_code=200, headers=headers)


def _static(request: Request, name: str) -> Response:
    suffix = Path(name).suffix
    if not _SAFE_NAME.fullmatch(name) or suffix not in CONTENT_TYPES:
        return _not_found()
    asset = _asset(playground_dir() / name)
    if asset is None:
        return _not_found()
    use_gzip = "gzip" in request.headers.get("accept-encoding", "").lower()
    headers = {
        **_COMMON_HEADERS,
        "Content-Type": asset.content_type,
        "Cache-Control": "no-cache",
        "Vary": "Accept-Encoding",
        "ETag": f'"{asset.etag}{"-gz" if use_gzip else ""}"',
    }
    if use_gzip:
        headers["Content-Encoding"] = "gzip"
    return _send(request, asset.gzipped if use_gzip else asset.body, headers)


def _initial_config(config_hash: str) -> tuple[dict[str, Any] | None, str | None]:
    """The config an old `/c/{hash}/playground/` share link carries, or why it has none."""
    if not config_hash:
        return None, None
    from langserve_like.config import decode_config_hash
    from langserve_like.exceptions import RequestError

    try:
        return decode_config_hash(config_hash), None
    except RequestError as exc:
        return None, str(exc.detail)


def playground_info(handler: APIHandler, config_hash: str = "") -> dict[str, Any]:
    """What the page needs besides the schemas: enabled endpoints, mode and feedback."""
    initial_config, config_error = _initial_config(config_hash)
    return {
        "title": handler.path or "/",
        "playground_type": handler.playground_type,
        "endpoints": sorted(handler.endpoints),
        "feedback": bool(handler.feedback_enabled),
        "config_hash": config_hash or None,
        "initial_config": initial_config,
        "config_error": config_error,
    }


async def playground_response(
    handler: APIHandler, request: Request, file_path: str, config_hash: str = ""
) -> Response:
    """Answer GET/HEAD `{path}/playground/{file_path}` (and the `/c/{hash}/` twin)."""
    if file_path == INFO_FILE:
        body = orjson.dumps(playground_info(handler, config_hash))
        headers = {
            **_COMMON_HEADERS,
            "Content-Type": "application/json",
            "Cache-Control": "no-cache",
            "ETag": f'"{hashlib.sha256(body).hexdigest()[:20]}"',
        }
        return _send(request, body, headers)
    return _static(request, file_path or "index.html")

"""Serves a route's playground: four static files plus one small JSON info document.

The page is hand-written HTML/CSS/JS shipped as package data; nothing user-controlled is
templated into it. It fetches `info.json` (below) and the route's schema endpoints, and
derives every URL from its own location, so it works under `root_path`, router prefixes
and path-rewriting proxies.

There is no build step, yet the browser loads only `index.html`, one stylesheet, the
theme script and one page script. The page script is the `BUNDLE` files joined in order
into one ES module, once per process (again when a file changes on disk). Each asset is
also served under a content-hashed name (`app.3f9c2a1b7e.js`) that never changes meaning,
so it is cached as immutable; `index.html`, revalidated on every load, is the only file
that names the hashes, rewritten from `./app.js` to `./app.<hash>.js` when it is served.
Every file carries a strict Content-Security-Policy, an ETag and a gzip variant.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from langchain_core.runnables import Runnable, RunnableBinding
from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from langserve_like.server.handler import APIHandler

__all__ = [
    "BUNDLE",
    "CSP",
    "INFO_FILE",
    "graph_nodes",
    "playground_dir",
    "playground_response",
]

INFO_FILE = "info.json"

# The page script's sections, joined in this order into one module scope. They do not
# import from each other; a section may use the top-level names of the sections before it
# at load time, and any section's names inside functions (those run after all loaded).
# So helpers come first and app.js, which starts the page, comes last. Top-level names
# must be unique across the sections (tests/test_playground.py checks).
BUNDLE = (
    "dom.js",
    "schema.js",
    "form.js",
    "output.js",
    "run.js",
    "snippets.js",
    "share.js",
    "timeline.js",
    "graph.js",
    "chat.js",
    "batch.js",
    "page.js",
    "appearance.js",
    "config.js",
    "feedback.js",
    "formmode.js",
    "app.js",
)

# What index.html references (`./style.css`) -> the files that make it up. theme.js stays
# a separate classic script: it must block rendering so a saved theme applies before the
# first paint, and the CSP forbids the inline script that could do it otherwise.
_PAGE = {
    "style.css": ("style.css",),
    "theme.js": ("theme.js",),
    "app.js": BUNDLE,
}
_INDEX = "index.html"
_HASH_CHARS = 10

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}

# The current file names are only ever revalidated; a hashed name always means the same
# bytes, so the browser may keep it for a year without asking again.
_REVALIDATE = "no-cache"
_IMMUTABLE = "public, max-age=31536000, immutable"

_COMMON_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def playground_dir() -> Path:
    """Where the playground files are: in the wheel, or in a source checkout."""
    package = Path(__file__).resolve().parent.parent  # langserve_like/
    packaged = package / "_playground"
    if packaged.is_dir():
        return packaged
    return package.parent / "playground"


@dataclass(frozen=True)
class _Asset:
    body: bytes
    gzipped: bytes
    etag: str
    content_type: str
    cache_control: str


def _make_asset(name: str, body: bytes, cache_control: str) -> _Asset:
    return _Asset(
        body=body,
        gzipped=gzip.compress(body, compresslevel=9, mtime=0),
        etag=hashlib.sha256(body).hexdigest()[:20],
        content_type=CONTENT_TYPES[Path(name).suffix],
        cache_control=cache_control,
    )


def _join(folder: Path, files: tuple[str, ...]) -> bytes:
    """One file as is, or several as marked sections of one script."""
    if len(files) == 1:
        return (folder / files[0]).read_bytes()
    parts = []
    for name in files:
        text = (folder / name).read_bytes()
        # The marker lets a reader of the served script find the source file.
        parts.append(f"// ---- {name} ----\n".encode() + text.rstrip(b"\n") + b"\n")
    return b"\n".join(parts)


def _hashed_name(name: str, body: bytes) -> str:
    """`app.js` -> `app.<first hex digits of the SHA-256 of body>.js`."""
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}.{hashlib.sha256(body).hexdigest()[:_HASH_CHARS]}{dot}{suffix}"


def _build(folder: Path) -> dict[str, _Asset]:
    """Every servable name -> its asset: index.html, the current and the hashed names."""
    assets: dict[str, _Asset] = {}
    html = (folder / _INDEX).read_text(encoding="utf-8")
    for name, files in _PAGE.items():
        body = _join(folder, files)
        hashed = _hashed_name(name, body)
        assets[name] = _make_asset(name, body, _REVALIDATE)
        assets[hashed] = replace(assets[name], cache_control=_IMMUTABLE)
        # Only these fixed names are rewritten, to names that are hex and dots.
        html = html.replace(f'"./{name}"', f'"./{hashed}"')
    assets[_INDEX] = _make_asset(_INDEX, html.encode(), _REVALIDATE)
    return assets


def _sources() -> list[str]:
    return [_INDEX, *(f for files in _PAGE.values() for f in files)]


_cache: dict[Path, tuple[tuple[tuple[int, int], ...], dict[str, _Asset]]] = {}


def _page_assets() -> dict[str, _Asset] | None:
    """The served assets, rebuilt only when a source file changes; None if one is missing."""
    folder = playground_dir()
    try:
        stats = [(folder / name).stat() for name in _sources()]
    except OSError:
        return None
    stamp = tuple((s.st_mtime_ns, s.st_size) for s in stats)
    cached = _cache.get(folder)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        assets = _build(folder)
    except OSError:
        return None
    _cache[folder] = (stamp, assets)
    return assets


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
    # The name is only ever a key into the built assets, never a filesystem path, so
    # `..`, `%2e%2e`, absolute paths, sub-folders, NUL and stale hashes are all a 404.
    assets = _page_assets()
    asset = assets.get(name) if assets is not None else None
    if asset is None:
        return _not_found()
    use_gzip = "gzip" in request.headers.get("accept-encoding", "").lower()
    headers = {
        **_COMMON_HEADERS,
        "Content-Type": asset.content_type,
        "Cache-Control": asset.cache_control,
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
    from langserve_like.exceptions import RequestError
    from langserve_like.server.config import decode_config_hash

    try:
        return decode_config_hash(config_hash), None
    except RequestError as exc:
        return None, str(exc.detail)


def graph_nodes(runnable: Runnable[Any, Any]) -> list[str] | None:
    """The node names of a LangGraph graph (also under `with_types`/`with_config`), else None.

    The page needs them to tell a graph's per-node `/stream` updates from ordinary
    dict chunks. The check is by module so that langgraph stays an optional install.
    """
    inner: Any = runnable
    while isinstance(inner, RunnableBinding):
        inner = inner.bound
    if not type(inner).__module__.startswith("langgraph."):
        return None
    try:
        nodes = inner.get_graph().nodes
    except Exception:  # a graph that cannot draw itself still runs: show plain chunks
        return None
    return [str(name) for name in nodes if name not in ("__start__", "__end__")]


def playground_info(handler: APIHandler, config_hash: str = "") -> dict[str, Any]:
    """What the page needs besides the schemas: endpoints, mode, feedback, graph nodes."""
    initial_config, config_error = _initial_config(config_hash)
    return {
        "graph_nodes": graph_nodes(handler.runnable),
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
    return _static(request, file_path or _INDEX)

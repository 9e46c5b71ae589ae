"""`langserve-like` (also `python -m langserve_like`): serve a runnable or an app.

    langserve-like serve my_module:chain --path /chain     # a Runnable: add_routes on a new app
    langserve-like serve examples/01_joke_chain.py:app     # a FastAPI app: served as is
    langserve-like demo                                     # the keyless demo
    langserve-like worker my_app:app --concurrency 10       # only execute its runs

`serve --workers N` starts N processes that each answer HTTP and, for an app
with `add_routes(..., runs=...)`, execute runs; `--runs-workers 0` (or the
`LSL_RUNS_WORKERS` environment variable) makes them API replicas only, with
`langserve-like worker` processes on the same database executing the runs.

TARGET is `module:attr` (imported with the current directory on `sys.path`, as
uvicorn does) or `path/to/file.py:attr`. With `--reload` or `--workers`, uvicorn
starts fresh processes that import the target themselves, so the options travel
to `_factory` in an environment variable.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langserve_like import __version__

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["TargetError", "build_app", "load_target", "main", "route_summary"]

logger = logging.getLogger("langserve_like.cli")

_OPTIONS_ENV = "LANGSERVE_LIKE_SERVE_OPTIONS"
_SERVER_EXTRA = "the server needs the server extra: pip install 'langserve-like[server]'"


class TargetError(Exception):
    """TARGET cannot be imported or is not something we can serve; the message says why."""


def _import_module(spec: str) -> Any:
    if spec.endswith(".py") or "/" in spec or os.sep in spec:
        path = Path(spec).resolve()
        if not path.is_file():
            raise TargetError(f"No such file: {spec!r}")
        # Sibling modules of the file import as they would under `python file.py`.
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))
        name = path.stem
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise TargetError(f"Cannot import {spec!r}: not a Python file")
        module = importlib.util.module_from_spec(module_spec)
        # Registered first: pydantic and dataclasses look their module up while it runs.
        sys.modules[name] = module
        try:
            module_spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        return module
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(spec)
    except ModuleNotFoundError as exc:
        # Only a miss of the target itself is "missing"; a missing dependency of the
        # target is the target's own import error, reported with its traceback below.
        if exc.name is not None and (spec == exc.name or spec.startswith(exc.name + ".")):
            raise TargetError(
                f"No module named {spec!r} (searched the current directory and sys.path). "
                "Use module:attr, or path/to/file.py:attr for a file."
            ) from None
        raise


def _servable_names(module: Any) -> list[str]:
    from langchain_core.runnables import Runnable
    from starlette.applications import Starlette

    return sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and isinstance(value, Runnable | Starlette)
    )


def load_target(target: str) -> Any:
    """Import `module:attr` or `file.py:attr` and return the attribute."""
    spec, sep, attr = target.rpartition(":")
    if not sep or not spec or not attr:
        raise TargetError(
            f"TARGET must be module:attr or path/to/file.py:attr, got {target!r} "
            "(for example my_app:chain or examples/01_joke_chain.py:app)"
        )
    try:
        module = _import_module(spec)
    except TargetError:
        raise
    except Exception as exc:
        raise TargetError(
            f"Importing {spec!r} failed with {type(exc).__name__}: {exc}\n"
            + "".join(traceback.format_exception(exc))
        ) from None
    value: Any = module
    for part in attr.split("."):
        if not hasattr(value, part):
            candidates = ", ".join(_servable_names(module)) or "none"
            raise TargetError(
                f"{spec!r} has no attribute {attr!r}. Runnables and apps it defines: {candidates}"
            )
        value = getattr(value, part)
    return value


def build_app(
    value: Any, *, target: str, path: str | None = None, playground_type: str | None = None
) -> Starlette:
    """A Runnable gets a new FastAPI app with `add_routes`; an app is returned as is."""
    from fastapi_offline import FastAPIOffline
    from langchain_core.runnables import Runnable
    from starlette.applications import Starlette

    if isinstance(value, Starlette):
        if path is not None or playground_type is not None:
            raise TargetError(
                f"{target!r} is an app, which is served as is; --path and "
                "--playground-type apply only to a Runnable target"
            )
        return value
    if not isinstance(value, Runnable):
        raise TargetError(
            f"{target!r} is a {type(value).__name__}, not a LangChain Runnable or a FastAPI app"
        )
    from langserve_like.server.routes import add_routes

    # /docs with Swagger UI's files served by the app itself, not from a CDN, so
    # that it works offline and behind firewalls.
    app = FastAPIOffline(title=f"{target} (langserve-like)")
    try:
        add_routes(
            app,
            value,
            path=path or "",
            playground_type="chat" if playground_type == "chat" else "default",
        )
    except ValueError as exc:
        raise TargetError(str(exc)) from None
    return app


def _factory() -> Starlette:
    """Called by uvicorn in each worker or reloaded process (see the module docstring)."""
    options = json.loads(os.environ[_OPTIONS_ENV])
    if options.get("demo"):
        from langserve_like.demo import create_app

        return create_app()
    os.chdir(options["cwd"])
    value = load_target(options["target"])
    return build_app(
        value,
        target=options["target"],
        path=options["path"],
        playground_type=options["playground_type"],
    )


def _paths(routes: Sequence[Any], prefix: str = "") -> Iterator[str]:
    for route in routes:
        path = getattr(route, "path", None)
        if path is None:
            continue
        served = getattr(route, "served_paths", None)  # add_routes' one route per runnable
        if served is not None:
            yield from (prefix + p for p in served)
            continue
        sub_routes = getattr(getattr(route, "app", None), "routes", None)
        if sub_routes is not None and not hasattr(route, "endpoint"):  # a Mount
            yield from _paths(sub_routes, prefix + path)
        else:
            yield prefix + path


def route_summary(app: Any, base_url: str, root_path: str = "") -> str:
    """The start-up block: every served runnable with its invoke, stream and playground URLs."""
    paths = set(_paths(app.routes))
    bases = sorted(
        p.removesuffix("/invoke")
        for p in paths
        if p.endswith("/invoke") and "{config_hash}" not in p
    )
    noun = "runnable" if len(bases) == 1 else "runnables"
    lines = [f"langserve-like {__version__}: serving {len(bases)} {noun} at {base_url}"]
    for base in bases:
        lines.append(f"  {base or '/'}")
        lines.append(f"    invoke      POST {base_url}{base}/invoke")
        if f"{base}/stream" in paths:
            lines.append(f"    stream      POST {base_url}{base}/stream")
        if any(p.startswith(f"{base}/playground/") for p in paths):
            lines.append(f"    playground  GET  {base_url}{base}/playground/")
    # FastAPIOffline serves /docs itself and leaves FastAPI's docs_url unset.
    docs_url = getattr(app, "docs_url", None) or ("/docs" if "/docs" in paths else None)
    if docs_url:
        lines.append(f"  API docs: {base_url}{docs_url}")
    if root_path:
        lines.append(
            f"  root path: {root_path} (the proxy's prefix; it strips it before forwarding)"
        )
    return "\n".join(lines)


def _configure_logging(level: str) -> None:
    package_logger = logging.getLogger("langserve_like")
    if package_logger.level == logging.NOTSET:
        package_logger.setLevel(level.upper())
    if not package_logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        package_logger.addHandler(handler)


def _run(app: Any, args: argparse.Namespace, options: dict[str, Any], reload_dir: str) -> int:
    import uvicorn

    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    if ":" in shown_host:
        shown_host = f"[{shown_host}]"
    logger.info(route_summary(app, f"http://{shown_host}:{args.port}", args.root_path))
    common: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "root_path": args.root_path,
        "log_level": args.log_level,
    }
    if args.forwarded_allow_ips is not None:
        common["forwarded_allow_ips"] = args.forwarded_allow_ips
    if args.reload or args.workers > 1:
        os.environ[_OPTIONS_ENV] = json.dumps(options)
        uvicorn.run(
            "langserve_like.cli:_factory",
            factory=True,
            reload=args.reload,
            reload_dirs=[reload_dir] if args.reload else None,
            workers=None if args.reload else args.workers,
            **common,
        )
    else:
        uvicorn.run(app, **common)
    return 0


def _serve(args: argparse.Namespace) -> int:
    if args.runs_workers is not None:
        from langserve_like.runs.options import WORKERS_ENV

        # Read by the engine of this process and of every uvicorn worker it starts.
        os.environ[WORKERS_ENV] = str(args.runs_workers)
    value = load_target(args.target)
    app = build_app(value, target=args.target, path=args.path, playground_type=args.playground_type)
    spec = args.target.rpartition(":")[0]
    is_file = spec.endswith(".py") or "/" in spec or os.sep in spec
    options = {
        "target": str(Path(spec).resolve()) + ":" + args.target.rpartition(":")[2]
        if is_file
        else args.target,
        "path": args.path,
        "playground_type": args.playground_type,
        "cwd": os.getcwd(),
    }
    reload_dir = str(Path(spec).resolve().parent) if is_file else os.getcwd()
    return _run(app, args, options, reload_dir)


def _worker(args: argparse.Namespace) -> int:
    from langserve_like.runs.standalone import find_engine, run_worker

    app = load_target(args.target)
    if find_engine(app) is None:
        raise TargetError(
            f"{args.target!r} has no runs engine: a worker needs the FastAPI app that "
            "mounts its graphs with add_routes(..., runs=Runs(...))"
        )
    try:
        return run_worker(app, concurrency=args.concurrency, grace=args.grace)
    except ValueError as exc:
        raise TargetError(str(exc)) from None


def _demo(args: argparse.Namespace) -> int:
    from langserve_like.demo import create_app

    return _run(create_app(), args, {"demo": True}, os.getcwd())


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--reload", action="store_true", help="restart when files change")
    parser.add_argument(
        "--workers", type=int, default=1, help="number of worker processes (default 1)"
    )
    parser.add_argument(
        "--root-path",
        default="",
        help="public path prefix when a proxy strips it, e.g. /api (see docs/deployment.md)",
    )
    parser.add_argument(
        "--forwarded-allow-ips",
        default=None,
        help="proxy addresses whose X-Forwarded-* headers are trusted (uvicorn's option)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="langserve-like",
        description="Serve LangChain runnables over HTTP (wire-compatible with LangServe).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve a Runnable or a FastAPI app",
        description="Serve TARGET: a Runnable is mounted with add_routes on a new "
        "FastAPI app; a FastAPI app is served as is.",
    )
    serve.add_argument("target", metavar="TARGET", help="module:attr or path/to/file.py:attr")
    serve.add_argument(
        "--path", default=None, help="URL path of a Runnable target, e.g. /chain (default /)"
    )
    serve.add_argument(
        "--playground-type",
        choices=["default", "chat"],
        default=None,
        help="playground of a Runnable target (default: default)",
    )
    serve.add_argument(
        "--runs-workers",
        type=int,
        default=None,
        help="runs each process executes at once (0: API only); overrides Runs(workers=...)",
    )
    _add_server_options(serve)
    _add_worker_parser(commands)
    demo = commands.add_parser(
        "demo",
        help="serve the keyless demo (/joke, /chat) with a fake streaming chat model",
    )
    _add_server_options(demo)
    return parser


def _add_worker_parser(commands: Any) -> None:
    worker = commands.add_parser(
        "worker",
        help="execute the runs of an app, without serving HTTP",
        description="Import the FastAPI app TARGET and execute the runs that any of its "
        "replicas created in its runs database. SIGTERM or SIGINT drains: no new "
        "claims, the runs in flight get the grace period, the rest go back to the queue.",
    )
    worker.add_argument("target", metavar="TARGET", help="module:attr or path/to/file.py:attr")
    worker.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="runs executed at once (default: the app's Runs(workers=...))",
    )
    worker.add_argument(
        "--grace",
        type=float,
        default=None,
        help="seconds the runs in flight get to finish on SIGTERM (default: Runs.shutdown_grace)",
    )
    worker.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
    )


def _usage_error(args: argparse.Namespace) -> str | None:
    if args.command == "worker":
        if args.concurrency is not None and args.concurrency < 1:
            return "--concurrency must be at least 1"
        if args.grace is not None and args.grace < 0:
            return "--grace must be >= 0"
        return None
    if args.workers < 1:
        return "--workers must be at least 1"
    if args.reload and args.workers > 1:
        return "use --reload or --workers, not both"
    if args.command == "serve" and args.runs_workers is not None and args.runs_workers < 0:
        return "--runs-workers must be >= 0"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else 2
    error = _usage_error(args)
    if error is not None:
        parser.print_usage(sys.stderr)
        sys.stderr.write(f"langserve-like: error: {error}\n")
        return 2
    _configure_logging(args.log_level)
    commands = {"serve": _serve, "worker": _worker, "demo": _demo}
    try:
        return commands[args.command](args)
    except TargetError as exc:
        sys.stderr.write(f"langserve-like: error: {exc}\n")
        return 1
    except ImportError as exc:
        if exc.name in ("fastapi", "uvicorn", "sse_starlette", "starlette", "lzstring"):
            sys.stderr.write(f"langserve-like: error: {_SERVER_EXTRA} ({exc})\n")
            return 1
        raise

"""The one failure boundary: what a runnable's exception becomes for its client.

`to_failure` is called wherever a run can fail (invoke, batch, the three streams,
and the background runs to come) so that every failure is logged, mapped and
hidden the same way: the app's `error_mapper` may choose a status; otherwise the
client sees a plain 500 whose message names nothing of the exception unless the
route was built with `expose_error_messages=True`. The traceback goes to the
`langserve_like` logger.
"""

from __future__ import annotations

import logging

from langserve_like.exceptions import RunnableFailed
from langserve_like.server.options import RouteOptions
from langserve_like.wire import INTERNAL_SERVER_ERROR

__all__ = ["SHUTTING_DOWN", "shutting_down", "to_failure"]

logger = logging.getLogger("langserve_like")

SHUTTING_DOWN = "The server is shutting down"


def shutting_down(run_id: str | None = None) -> RunnableFailed:
    """What a run the server cancels on shutdown answers: 503, so a client may retry."""
    return RunnableFailed(503, SHUTTING_DOWN, run_id=run_id)


def to_failure(exc: BaseException, options: RouteOptions, run_id: str) -> RunnableFailed:
    """The failure the client of run `run_id` sees for `exc`.

    A `RunnableFailed` raised by the runnable already says what the client may see
    and is returned as it is.
    """
    if isinstance(exc, RunnableFailed):
        return exc
    name = options.run_name
    mapped = None
    if options.error_mapper is not None:
        try:
            mapped = options.error_mapper(exc)
        except Exception:  # a bug in the app's mapper must not become a crash
            logger.exception("error_mapper of %s raised; answering 500", name)
    if mapped is not None:
        logger.warning(
            "Run %s of %s failed: %s -> %s", run_id, name, type(exc).__name__, mapped.status_code
        )
        mapped.run_id = run_id
        return mapped
    if isinstance(exc, TypeError) and "not JSON serializable" in str(exc):
        logger.error(
            "Run %s of %s returned output that cannot be serialized", run_id, name, exc_info=exc
        )
    else:
        logger.error("Run %s of %s failed", run_id, name, exc_info=exc)
    message = (
        f"{type(exc).__name__}: {exc}" if options.expose_error_messages else INTERNAL_SERVER_ERROR
    )
    return RunnableFailed(500, message, run_id=run_id)

"""Every error langserve_like raises, in one tree.

Server side (translated to HTTP responses in exactly one place,
`langserve_like.server.responses.translated`):

* LangServeError
  x RequestError            the request is wrong: 4xx, `.status_code` and `.detail`
  |  x PayloadTooLarge      body over the configured limit (413)
  x RunnableFailed          the runnable raised; carries `.status_code`, and the
                            original exception as `__cause__` (its text is hidden
                            from the client unless the app opts in)

Client side (`RemoteRunnable`), subclassing `httpx.HTTPStatusError` where LangServe's
client raised it so existing `except httpx.HTTPStatusError:` clauses keep working:

* LangServeError
  x RemoteError(httpx.HTTPStatusError)   the server answered with an error
  |  x RemoteRequestError                a 4xx: the request was rejected
  |  x RemoteServerError                 a 5xx: the server failed
  |  x StreamError                       an `error` event in the middle of a stream
  x ProtocolError                        the response is not the LangServe wire format
  x RemoteTimeout(httpx.TimeoutException) the server did not answer in time
  |  x RemoteConnectTimeout, RemoteReadTimeout, RemoteWriteTimeout,
  |    RemotePoolTimeout             also the matching httpx class (httpx.ReadTimeout...),
  |                                  which LangServe's client let through
  x RemoteRunError                       stands in for a server-side exception in
                                         replayed callback events (`on_chain_error`)

Every `RemoteError` has `.status_code`, `.detail` (the server's `detail`, or the
`message` of an `error` event) and `.run_id` (when the server sent one).
Connection failures stay httpx's own `httpx.TransportError` subclasses.
"""

from __future__ import annotations

import reprlib
from typing import Any

import httpx

__all__ = [
    "ClientDisconnected",
    "LangServeError",
    "PayloadTooLarge",
    "ProtocolError",
    "RemoteError",
    "RemoteRequestError",
    "RemoteRunError",
    "RemoteConnectTimeout",
    "RemotePoolTimeout",
    "RemoteReadTimeout",
    "RemoteServerError",
    "RemoteTimeout",
    "RemoteWriteTimeout",
    "RequestError",
    "RunnableFailed",
    "StreamError",
]


class LangServeError(Exception):
    """Base class of every error raised by langserve_like."""


class RequestError(LangServeError):
    """The client sent something the server will not run (4xx).

    `detail` is what the JSON response carries: a string, or a list of
    pydantic-style error dicts whose `loc` names the offending field.
    """

    def __init__(self, status_code: int, detail: Any) -> None:
        # reprlib: a detail may echo a client's input nested thousands of levels deep.
        super().__init__(detail if isinstance(detail, str) else reprlib.repr(detail))
        self.status_code = status_code
        self.detail = detail


class PayloadTooLarge(RequestError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body is larger than the limit of {limit} bytes")
        self.limit = limit


class RunnableFailed(LangServeError):
    """The runnable raised. `__cause__` is the original exception.

    `run_id` is the failed run's id (runs' ids, comma-separated, for a batch), which
    the error answer carries; None when the failure is not about a run.
    """

    def __init__(
        self,
        status_code: int = 500,
        message: str = "Internal Server Error",
        headers: dict[str, str] | None = None,
        run_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.headers = headers or {}
        self.run_id = run_id


class ClientDisconnected(LangServeError):
    """The client left before the answer was ready; the run was cancelled."""


class RemoteError(LangServeError, httpx.HTTPStatusError):
    """The server answered with an error; `.status_code` and `.detail` say which."""

    def __init__(
        self,
        message: str,
        *,
        request: httpx.Request,
        response: httpx.Response,
        detail: Any = None,
        run_id: str | None = None,
    ) -> None:
        httpx.HTTPStatusError.__init__(self, message, request=request, response=response)
        self.status_code = response.status_code
        self.detail = detail
        self.run_id = run_id


class RemoteRequestError(RemoteError):
    """A 4xx answer: the server rejected the request."""


class RemoteServerError(RemoteError):
    """A 5xx answer: the server failed to run the request."""


class StreamError(RemoteError):
    """The server sent an `error` event in the middle of a stream."""


class ProtocolError(LangServeError):
    """The response does not follow the LangServe wire format."""


class RemoteTimeout(LangServeError, httpx.TimeoutException):
    """The server did not answer within the client's timeout."""

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        httpx.TimeoutException.__init__(self, message, request=request)


class RemoteConnectTimeout(RemoteTimeout, httpx.ConnectTimeout):
    """No connection to the server in time."""


class RemoteReadTimeout(RemoteTimeout, httpx.ReadTimeout):
    """The server sent nothing (no answer, no stream chunk) in time."""


class RemoteWriteTimeout(RemoteTimeout, httpx.WriteTimeout):
    """The request body could not be sent in time."""


class RemotePoolTimeout(RemoteTimeout, httpx.PoolTimeout):
    """No free connection in the httpx client's pool in time."""


class RemoteRunError(LangServeError):
    """A server-side run failed; replayed `on_*_error` callbacks receive this.

    The server never sends exception text, only a status code and a generic message.
    """

    def __init__(self, status_code: int = 500, message: str = "Internal Server Error") -> None:
        super().__init__(f"{status_code}: {message}")
        self.status_code = status_code
        self.message = message

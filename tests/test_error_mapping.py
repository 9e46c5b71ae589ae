"""`error_mapper` turns a runnable's exception into the status the client sees.

Before the first byte it is the HTTP status (with the mapper's headers, e.g.
`Retry-After`); once a stream has started it is the `status_code` of the `error`
event. Exception text is hidden unless the app opts in with
`expose_error_messages=True`. Served by a real uvicorn process.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from langchain_core.runnables import RunnableLambda

from langserve_like import RemoteRunnable, add_routes
from langserve_like.exceptions import RemoteRequestError, RunnableFailed, StreamError
from tests.reliability_apps import SECRET
from tests.servers import ROOT, run_uvicorn

pytestmark = pytest.mark.live

RATE_LIMITED = "The model provider is rate limiting"
TOO_LONG = "The input is longer than the model's context window"


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with (
        run_uvicorn("tests.reliability_apps:probe_app") as url,
        httpx.Client(base_url=url, timeout=30) as c,
    ):
        yield c


def sse_events(text: str) -> list[tuple[str, str]]:
    """(event, data) pairs of an SSE body."""
    events = []
    for frame in text.split("\r\n\r\n"):
        lines = dict(line.split(": ", 1) for line in frame.splitlines() if ": " in line)
        if "event" in lines:
            events.append((lines["event"], lines.get("data", "")))
    return events


def test_error_mapping_invoke_rate_limit_is_429_with_retry_after(client: httpx.Client) -> None:
    response = client.post("/fail/invoke", json={"input": "rate_limit"})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json()["detail"] == RATE_LIMITED
    assert response.json()["run_id"]
    assert SECRET not in response.text


def test_error_mapping_invoke_context_length_is_400(client: httpx.Client) -> None:
    response = client.post("/fail/invoke", json={"input": "context"})
    assert response.status_code == 400
    assert response.json()["detail"] == TOO_LONG
    assert "retry-after" not in response.headers


def test_error_mapping_unmapped_error_is_500_without_text(client: httpx.Client) -> None:
    response = client.post("/fail/invoke", json={"input": "other"})
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert SECRET not in response.text
    assert "ValueError" not in response.text


def test_error_mapping_batch_uses_the_mapped_status(client: httpx.Client) -> None:
    response = client.post("/fail/batch", json={"inputs": ["context", "rate_limit"]})
    assert response.status_code in (400, 429)
    assert response.json()["detail"] in (TOO_LONG, RATE_LIMITED)
    assert SECRET not in response.text


@pytest.mark.parametrize("endpoint", ["stream", "stream_log", "stream_events"])
def test_error_mapping_stream_failing_before_first_byte_is_http_status(
    client: httpx.Client, endpoint: str
) -> None:
    # stream_log and stream_events start with a run-start event, so a failing
    # runnable there has already sent bytes; only /stream can still answer 429.
    response = client.post(f"/fail/{endpoint}", json={"input": "rate_limit"})
    if endpoint == "stream":
        assert response.status_code == 429
        assert response.headers["retry-after"] == "7"
        assert response.json()["detail"] == RATE_LIMITED
    else:
        assert response.status_code == 200
        event, data = sse_events(response.text)[-1]
        assert event == "error"
        assert '"status_code":429' in data.replace(" ", "")
        assert RATE_LIMITED in data
    assert SECRET not in response.text


@pytest.mark.parametrize("endpoint", ["stream", "stream_log", "stream_events"])
@pytest.mark.parametrize(
    ("kind", "status", "message"),
    [("rate_limit", 429, RATE_LIMITED), ("context", 400, TOO_LONG)],
    ids=["rate_limit", "context"],
)
def test_error_mapping_mid_stream_error_event_carries_status(
    client: httpx.Client, endpoint: str, kind: str, status: int, message: str
) -> None:
    response = client.post(f"/fail_midway/{endpoint}", json={"input": kind})
    assert response.status_code == 200
    events = sse_events(response.text)
    assert events[0][0] == "metadata"
    assert any(name == "data" for name, _ in events)
    name, data = events[-1]
    assert name == "error"
    assert f'"status_code":{status}' in data.replace(" ", "")
    assert message in data
    assert SECRET not in response.text


@pytest.mark.parametrize("endpoint", ["stream", "stream_log", "stream_events"])
def test_error_mapping_unmapped_stream_error_hides_text(
    client: httpx.Client, endpoint: str
) -> None:
    response = client.post(f"/fail_midway/{endpoint}", json={"input": "other"})
    name, data = sse_events(response.text)[-1]
    assert name == "error"
    assert '"status_code":500' in data.replace(" ", "")
    assert "Internal Server Error" in data
    assert SECRET not in response.text
    assert "ValueError" not in response.text


def test_error_mapping_exposed_messages_only_when_app_opts_in(client: httpx.Client) -> None:
    response = client.post("/exposed/fail/invoke", json={"input": "other"})
    assert response.status_code == 500
    assert "ValueError" in response.json()["detail"]
    assert SECRET in response.json()["detail"]
    stream = client.post("/exposed/fail_midway/stream", json={"input": "other"})
    name, data = sse_events(stream.text)[-1]
    assert name == "error"
    assert SECRET in data


def test_error_mapping_reaches_the_python_client(client: httpx.Client) -> None:
    with RemoteRunnable(str(client.base_url.join("/fail")), timeout=30) as remote:
        with pytest.raises(RemoteRequestError) as invoke_error:
            remote.invoke("rate_limit")
    assert invoke_error.value.status_code == 429
    with RemoteRunnable(str(client.base_url.join("/fail_midway")), timeout=30) as midway:
        with pytest.raises(StreamError) as stream_error:
            list(midway.stream("context"))
    assert stream_error.value.status_code == 400
    assert TOO_LONG in str(stream_error.value.detail)


def _broken_mapper(exc: BaseException) -> RunnableFailed | None:
    raise RuntimeError("the mapper itself has a bug")


@pytest.mark.anyio
async def test_error_mapping_broken_mapper_falls_back_to_500() -> None:
    async def boom(text: str) -> str:
        raise ValueError(SECRET)

    app = FastAPI()
    add_routes(app, RunnableLambda(boom), path="/boom", error_mapper=_broken_mapper)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as local:
        response = await local.post("/boom/invoke", json={"input": "x"})
        assert response.status_code == 500
        assert response.text == "Internal Server Error"
        stream = await local.post("/boom/stream_events", json={"input": "x"})
        assert stream.status_code == 200
        assert sse_events(stream.text)[-1][0] == "error"
        assert SECRET not in response.text + stream.text


def test_error_mapping_docs_example_maps_provider_errors() -> None:
    """The example in docs/security.md runs, with its stand-ins for a provider's errors."""
    text = (ROOT / "docs" / "security.md").read_text()
    (code,) = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/security.md", "exec"), namespace)
    RateLimitError = namespace["RateLimitError"]
    BadRequestError = namespace["BadRequestError"]

    mapper = namespace["map_provider_errors"]
    limited = mapper(RateLimitError("slow down"))
    assert (limited.status_code, limited.headers) == (429, {"Retry-After": "10"})
    assert mapper(BadRequestError("context_length_exceeded")).status_code == 400
    assert mapper(ValueError("other")) is None
    assert any(getattr(r, "path", "") == "/echo/invoke" for r in namespace["app"].routes)

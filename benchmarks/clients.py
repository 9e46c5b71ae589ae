"""Load generators: wrk for throughput, small socket clients for exact counts.

The servers run on core 0; everything here runs on core 1 (`run.py` pins itself),
so the client never competes with the server it measures.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import resource
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

LUA = Path(__file__).resolve().parent / "post.lua"


class Http:
    """One keep-alive connection; `post` returns the whole body (chunked or not)."""

    def __init__(self, port: int, timeout: float = 120.0) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.conn.request("POST", path, body, {"Content-Type": "application/json"})
        response = self.conn.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.conn.close()


def _request(path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


def time_to_first_event(port: int, path: str, body: bytes, timeout: float = 30.0) -> float:
    """Seconds from sending the request to receiving the first `event: data` frame."""
    with socket.create_connection(("127.0.0.1", port), timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request = _request(path, body)
        received = b""
        start = time.perf_counter()
        sock.sendall(request)
        while b"event: data" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError(f"stream ended before a data event: {received[:300]!r}")
            received += chunk
        elapsed = time.perf_counter() - start
        while chunk := sock.recv(65536):
            received += chunk
    if b"event: end" not in received:
        raise RuntimeError(f"stream did not end cleanly: {received[-300:]!r}")
    return elapsed


@dataclass
class SlowResult:
    started: int
    completed: int
    failed: int
    seconds: float


async def _one_stream(port: int, request: bytes, deadline: float) -> bool:
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port), deadline - time.monotonic()
        )
    except (OSError, asyncio.TimeoutError):
        return False
    try:
        writer.write(request)
        received = await asyncio.wait_for(reader.read(), deadline - time.monotonic())
        return received.startswith(b"HTTP/1.1 200") and b"event: end" in received
    except (OSError, asyncio.TimeoutError):
        return False
    finally:
        writer.close()


async def _streams(port: int, path: str, body: bytes, count: int, timeout: float) -> SlowResult:
    deadline = time.monotonic() + timeout
    request = _request(path, body)
    start = time.monotonic()
    results = await asyncio.gather(*(_one_stream(port, request, deadline) for _ in range(count)))
    completed = sum(results)
    return SlowResult(count, completed, count - completed, time.monotonic() - start)


def concurrent_streams(
    port: int, path: str, body: bytes, count: int, timeout: float = 90.0
) -> SlowResult:
    """Open `count` streams at once and read each to its end (bounded by `timeout`)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    return asyncio.run(_streams(port, path, body, count, timeout))


@dataclass
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def wrk(port: int, path: str, body: bytes, connections: int, seconds: float) -> WrkResult:
    """One bounded wrk run (one thread on core 1) POSTing `body` to `path`."""
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
    cmd += ["--timeout", "30s", "-s", str(LUA), f"http://127.0.0.1:{port}{path}"]
    env = {**os.environ, "WRK_BODY": body.decode()}
    for attempt in range(2):  # one retry: a busy machine can refuse a connect now and then
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
        if done.returncode == 0:
            break
        if attempt:
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stdout} {done.stderr}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return WrkResult(
        summary["requests"],
        summary["duration_us"] / 1e6,
        summary["p50_us"] / 1e3,
        summary["p99_us"] / 1e3,
        summary["errors"] + summary["non_2xx"],
    )

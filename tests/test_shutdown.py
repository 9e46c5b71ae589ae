"""SIGTERM with streams open, against a real uvicorn process.

Without `--timeout-graceful-shutdown`, uvicorn waits: open streams run to their
normal `end`, then the process exits. With it, streams still open after the timeout
end with a final `error` event (status 503) and a proper end of body, an invoke in
flight is answered 503, the runnables' generators are closed, and the process exits
within a bounded time. (docs/security.md, "Graceful shutdown".)
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.reliability_apps import open_post, poll_until, read_until
from tests.servers import ROOT, free_port, wait_for_port

pytestmark = pytest.mark.live

EXIT_WITHIN = 15.0


@dataclass
class Server:
    url: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    marker: Path


@contextlib.contextmanager
def uvicorn(tmp_path: Path, *extra: str) -> Iterator[Server]:
    port = free_port()
    log, marker = tmp_path / "uvicorn.log", tmp_path / "finally.txt"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RELIABILITY_MARKER_FILE": str(marker)}
    cmd = [sys.executable, "-m", "uvicorn", "tests.reliability_apps:probe_app"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log", *extra]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=out)
        try:
            wait_for_port(port, proc)
            yield Server(f"http://127.0.0.1:{port}", port, proc, log, marker)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=EXIT_WITHIN)


def read_rest(sock: socket.socket, seen: bytes = b"") -> bytes:
    """`seen`, then what comes until the server closes (each recv bounded by a timeout)."""
    data = seen
    with contextlib.suppress(OSError):
        while chunk := sock.recv(65536):
            data += chunk
    sock.close()
    return data


def sigterm_and_collect(
    server: Server, responses: list[tuple[socket.socket, bytes]]
) -> tuple[list[bytes], float]:
    """SIGTERM the server, read each open response (socket, bytes read so far) to its
    end and wait for the process to exit; the answers come back in the same order."""
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    answers = [b""] * len(responses)

    def collect(i: int) -> None:
        answers[i] = read_rest(*responses[i])

    readers = [threading.Thread(target=collect, args=(i,)) for i in range(len(responses))]
    for reader in readers:
        reader.start()
    server.proc.wait(timeout=EXIT_WITHIN)
    for reader in readers:
        reader.join(timeout=EXIT_WITHIN)
    return answers, time.monotonic() - started


def assert_clean_exit(server: Server) -> None:
    # uvicorn re-raises the SIGTERM it handled once it has shut down.
    assert server.proc.returncode in (0, -signal.SIGTERM)
    logged = server.log.read_text(errors="replace")
    assert "Traceback" not in logged
    assert "Exception in ASGI application" not in logged


def test_shutdown_waits_for_open_streams_to_finish(tmp_path: Path) -> None:
    with uvicorn(tmp_path) as server:
        socks = [open_post(server.url, "/ticks/stream", {"input": {"count": 40}}) for _ in range(3)]
        heads = [read_until(sock, b"event: data", count=2) for sock in socks]
        answers, took = sigterm_and_collect(server, list(zip(socks, heads, strict=True)))

    assert len(answers) == 3
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 200")
        assert b"event: error" not in answer
        assert answer.count(b"event: data") == 40
        assert answer.endswith(b"event: end\r\n\r\n\r\n0\r\n\r\n")  # last event, then end of body
    assert took < EXIT_WITHIN
    assert server.marker.read_text().count("stream finally") == 3
    assert_clean_exit(server)


def test_shutdown_refuses_new_connections_while_draining(tmp_path: Path) -> None:
    with uvicorn(tmp_path) as server:
        sock = open_post(server.url, "/ticks/stream", {"input": {"count": 100}})
        read_until(sock, b"event: data")
        server.proc.send_signal(signal.SIGTERM)

        def refused() -> bool | None:
            try:
                socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
            except ConnectionRefusedError:
                return True
            return None

        poll_until(refused, timeout=5, what="new connections refused")
        assert read_rest(sock).endswith(b"event: end\r\n\r\n\r\n0\r\n\r\n")
        server.proc.wait(timeout=EXIT_WITHIN)
    assert_clean_exit(server)


def test_shutdown_timeout_ends_open_streams_with_final_event(tmp_path: Path) -> None:
    with uvicorn(tmp_path, "--timeout-graceful-shutdown", "1") as server:
        endless = {"input": {"count": 1_000_000}}
        socks = [
            open_post(server.url, "/ticks/stream", endless),
            open_post(server.url, "/ticks/stream", endless),
            open_post(server.url, "/ticks/stream_events", endless),
        ]
        heads = [read_until(sock, b"event: data", count=2) for sock in socks]
        invoke = open_post(server.url, "/slow_invoke/invoke", {"input": "x"})
        poll_until(
            lambda: httpx.get(f"{server.url}/debug/state").json()["counters"].get("invoke_started"),
            timeout=5,
            what="the invoke started",
        )
        answers, took = sigterm_and_collect(
            server, [*zip(socks, heads, strict=True), (invoke, b"")]
        )

    *streams, invoked = answers
    for answer in streams:
        assert answer.startswith(b"HTTP/1.1 200")
        final_event = answer.rsplit(b"event: ", 1)[1]
        assert final_event.startswith(b"error\r\ndata: ")
        assert b'"status_code":503' in final_event
        assert b"The server is shutting down" in final_event
        assert answer.endswith(b"\r\n0\r\n\r\n")  # the chunked body ended properly
    assert invoked.startswith(b"HTTP/1.1 503")
    assert b"The server is shutting down" in invoked
    assert 1 <= took < 1 + 5 + 4  # the timeout, then at most the drain, plus slack
    assert server.marker.read_text().count("stream finally") == 3
    assert_clean_exit(server)

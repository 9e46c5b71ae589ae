"""The `langserve-like` command: serving targets on real sockets, errors, the Dockerfile.

Servers run as subprocesses on free loopback ports, started the way a user starts
them (`langserve-like ...` and `python -m langserve_like ...`); error cases call
`main()` in process, plus one through a real process for the exit status.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import site
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from httpx_sse import connect_sse
from langchain_core.runnables import RunnableLambda
from starlette.routing import Mount

from langserve_like.cli import main, route_summary
from langserve_like.runs.options import Runs
from langserve_like.server.routes import add_routes
from tests.servers import ROOT, free_port, wait_for_port

JOKE_EXAMPLE = "examples/01_joke_chain.py:app"
DOUBLE_MODULE = """
from langchain_core.runnables import RunnableLambda

chain = RunnableLambda(lambda x: x * 2, name="double").with_types(input_type=int)
not_servable = 42
"""


def console_script() -> str:
    """The installed `langserve-like` entry point (pip install -e . puts it there)."""
    script = Path(sys.executable).with_name("langserve-like")
    found = str(script) if script.exists() else shutil.which("langserve-like")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("the langserve-like script is not installed: pip install -e '.[server]'")
        pytest.skip("the langserve-like script is not installed: pip install -e '.[server]'")
    return found


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "EXAMPLE_MODEL")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return {**env, **extra}


@contextlib.contextmanager
def running(
    cmd: Sequence[str], *, port: int, cwd: Path, log: Path, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Run a server command until the block ends; yield its base URL. Output goes to `log`."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env or _env(), stdout=out, stderr=out)
        try:
            try:
                wait_for_port(port, proc)
            except RuntimeError:
                raise AssertionError(log.read_text()) from None
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


def timed_tokens(base_url: str, path: str, body: Any) -> list[tuple[float, Any]]:
    """(arrival time, data) of each data event of a real streaming request."""
    with (
        httpx.Client(base_url=base_url, timeout=60) as client,
        connect_sse(client, "POST", path, json=body) as source,
    ):
        assert source.response.status_code == 200
        assert source.response.headers["content-type"].startswith("text/event-stream")
        events = [(time.monotonic(), e) for e in source.iter_sse()]
    assert events[-1][1].event == "end"
    return [(t, json.loads(e.data)) for t, e in events if e.event == "data"]


# --- serving -----------------------------------------------------------------------


@pytest.mark.live
def test_cli_serve_file_target_streams_tokens_and_logs_its_routes(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    cmd = [console_script(), "serve", JOKE_EXAMPLE, "--port", str(port)]
    with running(cmd, port=port, cwd=ROOT, log=log) as url:
        tokens = timed_tokens(url, "/joke/stream", {"input": {"topic": "sockets"}})
        invoked = httpx.post(f"{url}/joke/invoke", json={"input": {"topic": "sockets"}}, timeout=60)
    text = "".join(token for _, token in tokens)
    assert "sockets" in text
    assert text == invoked.json()["output"]
    assert len(tokens) > 10
    # The example pauses before each token: they must arrive over time, not in one lump.
    assert tokens[-1][0] - tokens[0][0] > 0.5

    output = log.read_text()
    block = re.search(
        r"INFO: +langserve-like \S+: serving 1 runnable at (\S+)\n((?:  .*\n)+)", output
    )
    assert block, output
    assert block.group(1) == url
    assert block.group(2).splitlines() == [
        "  /joke",
        f"    invoke      POST {url}/joke/invoke",
        f"    stream      POST {url}/joke/stream",
        f"    playground  GET  {url}/joke/playground/",
        f"  API docs: {url}/docs",
    ]


@pytest.mark.live
def test_cli_serve_module_runnable_at_a_path(tmp_path: Path) -> None:
    (tmp_path / "my_chains.py").write_text(DOUBLE_MODULE)
    port = free_port()
    cmd = [console_script(), "serve", "my_chains:chain", "--path", "/double"]
    cmd += ["--port", str(port), "--root-path", "/api"]  # as behind a prefix-stripping proxy
    with running(cmd, port=port, cwd=tmp_path, log=tmp_path / "server.log") as url:
        response = httpx.post(f"{url}/double/invoke", json={"input": 21}, timeout=60)
        tokens = timed_tokens(url, "/double/stream", {"input": 5})
        playground = httpx.get(f"{url}/double/playground/", timeout=60)
        docs = httpx.get(f"{url}/docs", timeout=60)
    assert response.json()["output"] == 42
    assert [token for _, token in tokens] == [10]
    assert playground.status_code == 200
    assert "'/api/openapi.json'" in docs.text  # the public URL, through the proxy
    log = (tmp_path / "server.log").read_text()
    assert f"POST {url}/double/invoke" in log
    assert "root path: /api" in log


@pytest.mark.live
def test_cli_python_dash_m_serves_with_several_workers(tmp_path: Path) -> None:
    # Workers import the target themselves (through the CLI's factory).
    (tmp_path / "my_chains.py").write_text(DOUBLE_MODULE)
    port = free_port()
    cmd = [sys.executable, "-m", "langserve_like", "serve", "my_chains:chain"]
    cmd += ["--workers", "2", "--port", str(port)]
    with running(cmd, port=port, cwd=tmp_path, log=tmp_path / "server.log") as url:
        outputs = [
            httpx.post(f"{url}/invoke", json={"input": n}, timeout=60).json()["output"]
            for n in range(3)
        ]
    assert outputs == [0, 2, 4]
    log = (tmp_path / "server.log").read_text()
    assert f"POST {url}/invoke" in log
    assert log.count("Started server process") == 2, log


@pytest.mark.live
def test_cli_demo_streams_jokes_without_a_key(tmp_path: Path) -> None:
    port = free_port()
    cmd = [console_script(), "demo", "--port", str(port)]
    with running(cmd, port=port, cwd=tmp_path, log=tmp_path / "demo.log") as url:
        tokens = timed_tokens(url, "/joke/stream", {"input": {"topic": "parrots"}})
        chat = httpx.post(
            f"{url}/chat/invoke",
            json={"input": {"messages": [{"type": "human", "content": "hello"}]}},
            timeout=60,
        )
        index = httpx.get(f"{url}/", timeout=60)
        playground = httpx.get(f"{url}/joke/playground/", timeout=60)
    assert "parrots" in "".join(token for _, token in tokens)
    assert len(tokens) > 10
    assert tokens[-1][0] - tokens[0][0] > 0.3  # paced, so a terminal shows it streaming
    assert chat.json()["output"]["type"] == "ai"
    assert "hello" in chat.json()["output"]["content"]
    assert index.status_code == 307
    assert index.headers["location"] == "joke/playground/"
    assert playground.status_code == 200
    assert "serving 2 runnables" in (tmp_path / "demo.log").read_text()


# --- errors ------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working directory with a few modules; sys.path and the imports are undone after."""
    name = f"chains_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(DOUBLE_MODULE + "app = __import__('fastapi').FastAPI()\n")
    (tmp_path / f"broken_{name}.py").write_text("import a_dependency_that_is_not_installed\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path
    sys.modules.pop(name, None)


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main(argv)
    return status, capsys.readouterr().err


@pytest.mark.parametrize(
    ("target", "extra", "message"),
    [
        ("no_such_module_here:app", [], "No module named 'no_such_module_here'"),
        (
            "{m}:missing",
            [],
            "'{m}' has no attribute 'missing'. Runnables and apps it defines: app, chain",
        ),
        (
            "{m}:not_servable",
            [],
            "'{m}:not_servable' is a int, not a LangChain Runnable or a FastAPI app",
        ),
        ("missing_file.py:app", [], "No such file: 'missing_file.py'"),
        ("just_a_module", [], "TARGET must be module:attr or path/to/file.py:attr"),
        ("broken_{m}:app", [], "No module named 'a_dependency_that_is_not_installed'"),
        (
            "{m}:app",
            ["--path", "/x"],
            "--path and --playground-type apply only to a Runnable target",
        ),
        ("{m}:chain", ["--path", "no-slash"], "path must be empty or start with '/'"),
    ],
)
def test_cli_serve_rejects_bad_targets_with_a_clear_message(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    target: str,
    extra: list[str],
    message: str,
) -> None:
    module = next(p.stem for p in project.glob("chains_*.py"))
    status, err = run_main(["serve", target.format(m=module), *extra], capsys)
    assert status == 1
    assert err.startswith("langserve-like: error: ")
    assert message.format(m=module) in err


def test_cli_serve_reports_the_failing_import_with_its_traceback(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = next(p.stem for p in project.glob("broken_*.py"))
    status, err = run_main(["serve", f"{module}:app"], capsys)
    assert status == 1
    assert f"Importing '{module}' failed with ModuleNotFoundError" in err
    assert "Traceback (most recent call last)" in err


@pytest.mark.parametrize("attr", ["app", "chain"])
def test_cli_worker_rejects_a_target_without_a_runs_engine(
    project: Path, capsys: pytest.CaptureFixture[str], attr: str
) -> None:
    module = next(p.stem for p in project.glob("chains_*.py"))
    status, err = run_main(["worker", f"{module}:{attr}"], capsys)
    assert status == 1
    assert f"'{module}:{attr}' has no runs engine" in err


def test_cli_runs_workers_variable_overrides_the_apps_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LSL_RUNS_WORKERS", "0")
    assert Runs(workers=8).with_environment().workers == 0
    monkeypatch.setenv("LSL_RUNS_WORKERS", "")
    assert Runs(workers=8).with_environment().workers == 8
    monkeypatch.setenv("LSL_RUNS_WORKERS", "many")
    with pytest.raises(ValueError, match="LSL_RUNS_WORKERS must be a number"):
        Runs().with_environment()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "m:app", "--workers", "0"], "--workers must be at least 1"),
        (["serve", "m:app", "--reload", "--workers", "2"], "use --reload or --workers, not both"),
        (["serve", "m:app", "--playground-type", "fancy"], "invalid choice: 'fancy'"),
        (["serve", "m:app", "--runs-workers", "-1"], "--runs-workers must be >= 0"),
        (["worker", "m:app", "--concurrency", "0"], "--concurrency must be at least 1"),
        (["worker", "m:app", "--grace", "-1"], "--grace must be >= 0"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_cli_usage_errors_exit_with_status_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, err = run_main(argv, capsys)
    assert status == 2
    assert message in err


def test_cli_error_exit_status_through_a_real_process(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "langserve_like", "serve", "no_such_module_here:app"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "langserve-like: error: No module named 'no_such_module_here'" in result.stderr
    assert result.stdout == ""


def test_cli_route_summary_finds_routes_in_mounted_apps() -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(lambda x: x), path="/top")
    sub = FastAPI(docs_url=None)
    add_routes(sub, RunnableLambda(lambda x: x), path="/inner", enabled_endpoints=["invoke"])
    app.router.routes.append(Mount("/sub", app=sub))
    summary = route_summary(app, "http://localhost:9")
    assert summary.splitlines() == [
        summary.splitlines()[0],
        "  /sub/inner",
        "    invoke      POST http://localhost:9/sub/inner/invoke",
        "  /top",
        "    invoke      POST http://localhost:9/top/invoke",
        "    stream      POST http://localhost:9/top/stream",
        "    playground  GET  http://localhost:9/top/playground/",
        "  API docs: http://localhost:9/docs",
    ]
    assert summary.splitlines()[0].endswith("serving 2 runnables at http://localhost:9")


# --- the Dockerfile, without Docker ------------------------------------------------


def dockerfile_commands() -> tuple[list[str], list[str]]:
    """The arguments of the Dockerfile's `RUN pip install` and its exec-form CMD."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    [install] = re.findall(r"^RUN pip install (.*)$", text, re.MULTILINE)
    [cmd] = re.findall(r"^CMD (\[.*\])$", text, re.MULTILINE)
    return shlex.split(install), json.loads(cmd)


@pytest.mark.live
def test_cli_dockerfile_install_and_cmd_serve_the_joke(tmp_path: Path) -> None:
    install_args, cmd = dockerfile_commands()
    # A fresh virtualenv that borrows this one's packages, so only ours is installed.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, timeout=120)
    [venv_site] = venv.glob("lib/python*/site-packages")
    borrowed = "\n".join([*site.getsitepackages(), site.getusersitepackages()])
    (venv_site / "borrowed.pth").write_text(borrowed + "\n")
    python = venv / "bin" / "python"

    no_isolation = ["--no-build-isolation"] if _importable("hatchling") else []
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
        + ["--no-deps", *no_isolation, *install_args],
        cwd=ROOT,
        check=True,
        timeout=300,
    )
    # Without the caller's PYTHONPATH, which may point at a source checkout.
    clean_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    installed = subprocess.run(
        [python, "-c", "import langserve_like; print(langserve_like.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env=clean_env,
    ).stdout
    assert installed.startswith(str(venv_site)), installed

    port = free_port()
    assert cmd[0] == "langserve-like"
    cmd = [str(venv / "bin" / cmd[0]), *cmd[1:]]
    cmd[cmd.index("--host") + 1] = "127.0.0.1"
    cmd[cmd.index("--port") + 1] = str(port)
    env = {k: v for k, v in _env().items() if k != "PYTHONPATH"}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    with running(cmd, port=port, cwd=ROOT, log=tmp_path / "server.log", env=env) as url:
        joke = httpx.post(f"{url}/joke/invoke", json={"input": {"topic": "whales"}}, timeout=60)
        playground = httpx.get(f"{url}/joke/playground/", timeout=60)
    assert joke.status_code == 200
    assert "whales" in joke.json()["output"]
    assert playground.status_code == 200  # the playground files made it into the wheel


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


# --- split deployments: API replicas and worker processes ------------------------------


@pytest.mark.live
def test_cli_worker_executes_the_runs_of_api_only_replicas_and_drains_on_sigint(
    tmp_path: Path,
) -> None:
    """`serve --workers 2 --runs-workers 0` answers HTTP and executes nothing;
    `langserve-like worker` executes every run; SIGTERM stops it cleanly."""
    from langgraph_sdk import get_sync_client

    from tests.runs.cluster import Cluster, runs_database
    from tests.runs.invariants import read_audit

    with Cluster(tmp_path, runs_database(tmp_path)) as cluster:
        url, [worker] = cluster.start(1, 3, processes=2)
        with get_sync_client(url=url, timeout=60) as client:
            threads = [client.threads.create()["thread_id"] for _ in range(3)]
            for tid in threads:
                assert client.runs.wait(tid, "steps", input={"steps": []}) == {
                    "steps": ["a", "b", "c"]
                }
        worker.send_signal(signal.SIGINT)  # as Ctrl-C does; SIGTERM is the same
        assert worker.wait(timeout=30) == 0
        cluster.close()
    claims = [e for e in read_audit(cluster.audit) if e.kind == "claim"]
    assert len(claims) == 3
    assert {e.pid for e in claims} == {worker.pid}
    log = (tmp_path / "worker-1.log").read_text()
    assert f"langserve-like worker {worker.pid}: executing up to 3 runs at once" in log
    assert "SIGINT: draining" in log
    assert f"langserve-like worker {worker.pid}: stopped" in log

"""The playground's static serving and info document, over HTTP (no browser)."""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from langchain_core.runnables import RunnableLambda

from langserve_like import add_routes
from langserve_like.config import encode_config_hash
from langserve_like.playground import playground_dir

ROOT = Path(__file__).resolve().parent.parent
BUDGET_GZIP_BYTES = 60 * 1024


def _client(**options: object) -> TestClient:
    app = FastAPI()
    add_routes(app, RunnableLambda(lambda x: x).with_types(input_type=str), path="/echo", **options)
    return TestClient(app)


@pytest.fixture(scope="module")
def client() -> TestClient:
    return _client()


def _page_files() -> list[str]:
    """Every file index.html loads: its scripts and styles, and their module imports."""
    folder = playground_dir()
    html = (folder / "index.html").read_text()
    todo = re.findall(r'(?:src|href)="\./([^"]+)"', html)
    seen = ["index.html"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.append(name)
        if name.endswith(".js"):
            todo += re.findall(r'from "\./([^"]+)"', (folder / name).read_text())
    return seen


def test_playground_index_has_strict_csp_and_html_type(client: TestClient) -> None:
    response = client.get("/echo/playground/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "default-src 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="./app.js">' in response.text


def test_playground_index_references_only_relative_urls(client: TestClient) -> None:
    html = client.get("/echo/playground/index.html").text
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs
    assert all(ref.startswith(("./", "data:")) for ref in refs), refs


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("app.js", "text/javascript; charset=utf-8"),
        ("form.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("theme.js", "text/javascript; charset=utf-8"),
    ],
)
def test_playground_assets_have_fixed_content_types(
    client: TestClient, name: str, content_type: str
) -> None:
    response = client.get(f"/echo/playground/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.content == (playground_dir() / name).read_bytes()


def test_playground_every_page_file_is_served(client: TestClient) -> None:
    for name in _page_files():
        assert client.get(f"/echo/playground/{name}").status_code == 200, name


def test_playground_etag_revalidates_with_304(client: TestClient) -> None:
    first = client.get("/echo/playground/app.js")
    assert first.headers["cache-control"] == "no-cache"
    etag = first.headers["etag"]
    again = client.get("/echo/playground/app.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    stale = client.get("/echo/playground/app.js", headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200


def test_playground_head_returns_headers_without_body(client: TestClient) -> None:
    response = client.head("/echo/playground/style.css", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    size = len((playground_dir() / "style.css").read_bytes())
    assert response.headers["content-length"] == str(size)


def test_playground_gzip_when_accepted(client: TestClient) -> None:
    raw = client.get("/echo/playground/form.js", headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.headers["vary"] == "Accept-Encoding"
    assert raw.content == (playground_dir() / "form.js").read_bytes()  # httpx decoded it
    plain = client.get("/echo/playground/form.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.headers["etag"] != raw.headers["etag"]


@pytest.mark.parametrize(
    "path",
    [
        "../pyproject.toml",
        "%2e%2e/pyproject.toml",
        "%2e%2e%2fpyproject.toml",
        "..%2F..%2Fpyproject.toml",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "app.js%00",
        "%00",
        "README.md",
        "missing.js",
        "sub/app.js",
        "..",
    ],
)
def test_playground_rejects_paths_outside_its_files(client: TestClient, path: str) -> None:
    response = client.get(f"/echo/playground/{path}")
    assert response.status_code == 404
    assert b"[project]" not in response.content
    assert b"root:" not in response.content


def test_playground_info_reports_endpoints_mode_and_feedback() -> None:
    client = _client(disabled_endpoints=["stream_events"], playground_type="chat")
    info = client.get("/echo/playground/info.json").json()
    assert info["playground_type"] == "chat"
    assert "stream" in info["endpoints"]
    assert "invoke" in info["endpoints"]
    assert "stream_events" not in info["endpoints"]
    assert info["feedback"] is False
    assert info["config_hash"] is None
    assert info["initial_config"] is None


def test_playground_info_feedback_true_with_a_sink() -> None:
    client = _client(enable_feedback_endpoint=True, feedback_sink=lambda feedback: None)
    assert client.get("/echo/playground/info.json").json()["feedback"] is True


def test_playground_info_under_config_hash_carries_the_config(client: TestClient) -> None:
    config = {"configurable": {"a": "</script>"}}
    config_hash = encode_config_hash(config)
    response = client.get(f"/echo/c/{config_hash}/playground/info.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["initial_config"] == config
    assert response.json()["config_hash"] == config_hash
    page = client.get(f"/echo/c/{config_hash}/playground/")
    assert page.status_code == 200
    assert page.content == (playground_dir() / "index.html").read_bytes()


def test_playground_disabled_endpoint_is_not_served() -> None:
    client = _client(disabled_endpoints=["playground"])
    assert client.get("/echo/playground/").status_code == 404


def test_playground_page_fits_the_gzip_budget() -> None:
    folder = playground_dir()
    files = _page_files()
    assert {"index.html", "app.js", "style.css"} <= set(files)
    total = sum(len(gzip.compress((folder / f).read_bytes(), 9)) for f in files)
    assert total <= BUDGET_GZIP_BYTES, f"{total} bytes gzip for {files}"


def test_playground_files_ship_in_the_wheel(tmp_path: Path) -> None:
    """hatch force-includes playground/ as langserve_like/_playground/."""
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    (source / "README.md").write_text("readme\n")
    for folder in ("langserve_like", "playground"):
        shutil.copytree(
            ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(tmp_path), str(source)],
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in _page_files():
        assert f"langserve_like/_playground/{name}" in names


def test_playground_dir_is_the_source_folder_in_a_checkout() -> None:
    assert playground_dir() == ROOT / "playground"
    assert (playground_dir() / "index.html").is_file()

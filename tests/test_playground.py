"""The playground's static serving and info document, over HTTP (no browser)."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from langchain_core.runnables import RunnableLambda

from langserve_like import add_routes
from langserve_like.server import playground
from langserve_like.server.config import encode_config_hash
from langserve_like.server.playground import BUNDLE, playground_dir

ROOT = Path(__file__).resolve().parent.parent
BUDGET_GZIP_BYTES = 60 * 1024


def _client(**options: object) -> TestClient:
    app = FastAPI()
    add_routes(app, RunnableLambda(lambda x: x).with_types(input_type=str), path="/echo", **options)
    return TestClient(app)


@pytest.fixture(scope="module")
def client() -> TestClient:
    return _client()


HASHED = re.compile(r"(?P<stem>[a-z]+)\.(?P<hash>[0-9a-f]{10})\.(?:js|css)")


def _stem_and_hash(name: str) -> tuple[str, str]:
    match = HASHED.fullmatch(name)
    assert match, f"{name} is not a content-hashed name"
    return match["stem"], match["hash"]


def _assets(client: TestClient, page: str = "/echo/playground/") -> list[str]:
    """The names of the scripts and stylesheets the served index.html loads."""
    return re.findall(r'(?:src|href)="\./([^"]+)"', client.get(page).text)


def _hashed(client: TestClient, stem: str) -> str:
    (name,) = [n for n in _assets(client) if n.startswith(f"{stem}.")]
    return name


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


def test_playground_index_loads_three_content_hashed_assets(client: TestClient) -> None:
    html = client.get("/echo/playground/").text
    names = _assets(client)
    assert [_stem_and_hash(n)[0] for n in names] == ["style", "theme", "app"]
    assert f'<script type="module" src="./{names[2]}">' in html
    assert f'<script src="./{names[1]}">' in html  # classic and blocking: no theme flash
    for name in names:
        body = client.get(f"/echo/playground/{name}").content
        # The name is the content's hash, so any change to the content changes the name.
        assert _stem_and_hash(name)[1] == hashlib.sha256(body).hexdigest()[:10]


def test_playground_index_references_only_relative_urls(client: TestClient) -> None:
    html = client.get("/echo/playground/index.html").text
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs
    assert all(ref.startswith(("./", "data:")) for ref in refs), refs


def test_playground_index_is_revalidated_with_an_etag(client: TestClient) -> None:
    for path in ("/echo/playground/", "/echo/playground/index.html"):
        response = client.get(path)
        assert response.headers["cache-control"] == "no-cache"
        again = client.get(path, headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304
        assert again.content == b""


def test_playground_hashed_assets_are_cached_as_immutable(client: TestClient) -> None:
    content_types = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}
    for name in _assets(client):
        response = client.get(f"/echo/playground/{name}")
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["content-type"] == content_types[name.rsplit(".", 1)[1]]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["etag"]


def test_playground_style_and_theme_are_served_unchanged(client: TestClient) -> None:
    for stem, source in (("style", "style.css"), ("theme", "theme.js")):
        served = client.get(f"/echo/playground/{_hashed(client, stem)}").content
        assert served == (playground_dir() / source).read_bytes()


def test_playground_bundle_holds_every_section_in_order(client: TestClient) -> None:
    bundle = client.get(f"/echo/playground/{_hashed(client, 'app')}").text
    at = -1
    for name in BUNDLE:
        marker = f"// ---- {name} ----\n"
        assert bundle.count(marker) == 1, name
        section = marker + (playground_dir() / name).read_text().rstrip("\n") + "\n"
        assert bundle.index(section) > at, f"{name} is missing or out of order"
        at = bundle.index(section)


def test_playground_every_script_is_a_bundle_section_or_the_theme() -> None:
    scripts = {p.name for p in playground_dir().glob("*.js")}
    assert scripts == {*BUNDLE, "theme.js"}, "add new .js files to BUNDLE in playground.py"
    assert BUNDLE[-1] == "app.js"  # it starts the page, so every other section is loaded


def _top_level_names(name: str) -> list[str]:
    text = (playground_dir() / name).read_text()
    assert not re.search(r"^(?:const|let|var)\s*[{\[]", text, re.M), (
        f"{name}: declare top-level names one by one so duplicates can be found"
    )
    return re.findall(
        r"^(?:export\s+)?(?:async\s+)?(?:function\s*\*?|class|const|let|var)\s*([A-Za-z_$][\w$]*)",
        text,
        re.M,
    )


def test_playground_bundle_sections_declare_unique_top_level_names() -> None:
    # The sections share one module scope, where a second declaration of a name is a
    # SyntaxError that stops the whole page.
    owners: dict[str, list[str]] = {}
    for name in BUNDLE:
        for declared in _top_level_names(name):
            owners.setdefault(declared, []).append(name)
    assert "buildForm" in owners
    assert {k: v for k, v in owners.items() if len(v) > 1} == {}


def test_playground_bundle_sections_do_not_import_or_export() -> None:
    # Joined into one module, a section sees the others' names directly; an import
    # would be another request, and an export of a name twice a SyntaxError.
    for name in BUNDLE:
        text = (playground_dir() / name).read_text()
        assert not re.findall(r"^[ \t]*(?:import|export)\b.*", text, re.M), name


@pytest.mark.parametrize(
    ("name", "source"), [("style.css", "style.css"), ("theme.js", "theme.js"), ("app.js", None)]
)
def test_playground_unhashed_names_are_revalidated(
    client: TestClient, name: str, source: str | None
) -> None:
    stem = name.split(".")[0]
    response = client.get(f"/echo/playground/{name}")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    assert response.content == client.get(f"/echo/playground/{_hashed(client, stem)}").content
    if source is not None:
        assert response.content == (playground_dir() / source).read_bytes()


def test_playground_etag_revalidates_with_304(client: TestClient) -> None:
    name = _hashed(client, "app")
    first = client.get(f"/echo/playground/{name}")
    etag = first.headers["etag"]
    again = client.get(f"/echo/playground/{name}", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == "public, max-age=31536000, immutable"
    stale = client.get(f"/echo/playground/{name}", headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200


def test_playground_head_returns_headers_without_body(client: TestClient) -> None:
    name = _hashed(client, "style")
    response = client.head(f"/echo/playground/{name}", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    size = len((playground_dir() / "style.css").read_bytes())
    assert response.headers["content-length"] == str(size)
    index = client.head("/echo/playground/", headers={"Accept-Encoding": "identity"})
    assert index.status_code == 200
    assert index.content == b""
    assert index.headers["content-length"] == str(len(client.get("/echo/playground/").content))


def test_playground_gzip_when_accepted(client: TestClient) -> None:
    name = _hashed(client, "app")
    raw = client.get(f"/echo/playground/{name}", headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.headers["vary"] == "Accept-Encoding"
    assert int(raw.headers["content-length"]) < len(raw.content) / 2  # httpx decoded it
    plain = client.get(f"/echo/playground/{name}", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == raw.content
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
        "form.js",  # a bundle section, not a page on its own
        "app.0000000000.js",  # a hash no build of the page has
        "app.JS",
    ],
)
def test_playground_rejects_paths_outside_its_files(client: TestClient, path: str) -> None:
    response = client.get(f"/echo/playground/{path}")
    assert response.status_code == 404
    assert b"[project]" not in response.content
    assert b"root:" not in response.content


def test_playground_rejects_hashes_in_traversal_and_other_assets(client: TestClient) -> None:
    name = _hashed(client, "app")
    digest = _stem_and_hash(name)[1]
    for path in (f"../{name}", f"sub/{name}", f"style.{digest}.css", f"{name}.map"):
        assert client.get(f"/echo/playground/{path}").status_code == 404, path


def test_playground_changed_source_gets_a_new_hash_and_the_old_one_404s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "playground"
    shutil.copytree(playground_dir(), folder)
    monkeypatch.setattr(playground, "playground_dir", lambda: folder)
    client = _client()
    old = _hashed(client, "app")
    assert client.get(f"/echo/playground/{old}").status_code == 200
    with (folder / "dom.js").open("a") as file:
        file.write("// changed\n")
    new = _hashed(client, "app")
    assert new != old
    assert client.get(f"/echo/playground/{old}").status_code == 404
    assert client.get(f"/echo/playground/{new}").text.count("// changed\n") == 1


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


def _two_node_graph() -> Any:
    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict):
        text: str

    graph = StateGraph(State)
    graph.add_node("shout", lambda state: {"text": state["text"].upper()})
    graph.add_node("mark", lambda state: {"text": state["text"] + "!"})
    graph.add_edge(START, "shout")
    graph.add_edge("shout", "mark")
    graph.add_edge("mark", END)
    return graph.compile()


# Serving a compiled graph reads its config schema, which LangGraph 1.x deprecates; how
# the server reads a graph's schemas is not what this test is about.
@pytest.mark.filterwarnings("ignore:.*config_schema.*is deprecated")
def test_playground_info_names_a_graphs_nodes_also_under_with_types() -> None:
    app = FastAPI()
    graph = _two_node_graph()
    add_routes(app, graph, path="/graph")
    add_routes(app, graph.with_types(input_type=dict[str, str]), path="/typed")
    add_routes(app, RunnableLambda(lambda x: x), path="/plain")
    client = TestClient(app)
    assert client.get("/graph/playground/info.json").json()["graph_nodes"] == ["shout", "mark"]
    assert client.get("/typed/playground/info.json").json()["graph_nodes"] == ["shout", "mark"]
    assert client.get("/plain/playground/info.json").json()["graph_nodes"] is None


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
    assert page.content == client.get("/echo/playground/").content
    # The asset names are relative, so they resolve under the /c/{hash}/ path too.
    for name in _assets(client, f"/echo/c/{config_hash}/playground/"):
        asset = client.get(f"/echo/c/{config_hash}/playground/{name}")
        assert asset.status_code == 200
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_playground_disabled_endpoint_is_not_served() -> None:
    client = _client(disabled_endpoints=["playground"])
    assert client.get("/echo/playground/").status_code == 404


def test_playground_page_fits_the_gzip_budget(client: TestClient) -> None:
    # What the browser downloads to show the page: index.html and the assets it names,
    # gzipped as served. info.json and the schemas are API calls, not page assets.
    pages = ["", *_assets(client)]
    sizes = {}
    for name in pages:
        response = client.get(f"/echo/playground/{name}", headers={"Accept-Encoding": "gzip"})
        assert response.headers["content-encoding"] == "gzip"
        sizes[name or "index.html"] = int(response.headers["content-length"])
    assert len(sizes) == 4
    assert sum(sizes.values()) <= BUDGET_GZIP_BYTES, sizes


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
    for name in ("index.html", "style.css", "theme.js", *BUNDLE):
        assert f"langserve_like/_playground/{name}" in names


def test_playground_dir_is_the_source_folder_in_a_checkout() -> None:
    assert playground_dir() == ROOT / "playground"
    assert (playground_dir() / "index.html").is_file()

"""Hostile requests against a real uvicorn server: each one gets a 4xx whose body
names the problem, nothing is logged as a server error, and the next ordinary
request is still answered.

The table is crossed with every POST endpoint (and, for config hashes, the schema
endpoints too), so one test id reads e.g. `test_hostile_body_rejected[stream-empty_body]`.
"""

from __future__ import annotations

import http.client
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import lzstring
import orjson
import pytest

from tests.reliability_apps import MAX_BATCH, MAX_BODY
from tests.servers import run_uvicorn

pytestmark = pytest.mark.live

POST_ENDPOINTS = ("invoke", "batch", "stream", "stream_log", "stream_events")
SCHEMA_ENDPOINTS = ("input_schema", "output_schema", "config_schema")
_LZ = lzstring.LZString()


@dataclass(frozen=True)
class Probe:
    """One hostile request and the rejection it must get."""

    status: int
    needle: str  # must appear in the response body: the problem, named
    content: bytes | Callable[[], Iterator[bytes]]
    route: str = "/typed"
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})


def body(endpoint: str, value: Any = 1, **extra: Any) -> bytes:
    """The body of `endpoint` with `value` as its input (one-item batch for /batch)."""
    key = ("inputs", [value]) if endpoint == "batch" else ("input", value)
    return orjson.dumps({key[0]: key[1], **extra})


def nested(endpoint: str, depth: int, where: str = "input") -> bytes:
    """A body whose input (or configured template) is `depth` lists deep, as raw JSON
    (orjson refuses to encode more than 254 levels)."""
    value = b"[" * depth + b"1" + b"]" * depth
    if where == "config":
        return (
            body(endpoint, {"name": "x"})[:-1]
            + b',"config":{"configurable":{"template":'
            + value
            + b"}}}"
        )
    return b'{"inputs":[' + value + b"]}" if endpoint == "batch" else b'{"input":' + value + b"}"


def config_probe(endpoint: str, config: Any, needle: str, route: str = "/typed") -> Probe:
    return Probe(422, needle, body(endpoint, config=config), route=route)


def _chunks(total: int) -> Callable[[], Iterator[bytes]]:
    def generate() -> Iterator[bytes]:
        yield b'{"input": "'
        for _ in range(total // 8192 + 1):
            yield b"a" * 8192
        yield b'"}'

    return generate


_HUGE = b'{"input": "' + b"a" * MAX_BODY + b'"}'

# id -> endpoint -> Probe. Config-related cases target the configurable prompt.
BODY_CASES: dict[str, Callable[[str], Probe]] = {
    "invalid_json": lambda e: Probe(422, "Invalid JSON", b'{"input": 1,'),
    "trailing_garbage": lambda e: Probe(422, "Invalid JSON", b'{"input": 1} trailing'),
    "raw_nul_byte": lambda e: Probe(422, "Invalid JSON", b'{"input": "\x00"}'),
    "invalid_utf8": lambda e: Probe(422, "Invalid JSON", b'{"input": "\xff\xfe"}'),
    "lone_surrogate": lambda e: Probe(422, "Invalid JSON", b'{"input": "\\ud800"}'),
    "whitespace_body": lambda e: Probe(422, "Invalid JSON", b"  \n "),
    "empty_body": lambda e: Probe(422, "Invalid JSON", b""),
    "body_is_array": lambda e: Probe(422, "valid dictionary", b"[1]"),
    "body_is_string": lambda e: Probe(422, "valid dictionary", b'"input"'),
    "body_is_number": lambda e: Probe(422, "valid dictionary", b"1"),
    "body_is_null": lambda e: Probe(422, "valid dictionary", b"null"),
    "content_type_xml": lambda e: Probe(
        415, "Content-Type", body(e), headers={"content-type": "application/xml"}
    ),
    "content_type_multipart": lambda e: Probe(
        415, "Content-Type", body(e), headers={"content-type": "multipart/form-data; boundary=x"}
    ),
    "content_type_binary": lambda e: Probe(
        415, "Content-Type", body(e), headers={"content-type": "application/octet-stream"}
    ),
    "huge_body": lambda e: Probe(413, "larger than the limit", _HUGE),
    "huge_body_chunked": lambda e: Probe(413, "larger than the limit", _chunks(2 * MAX_BODY)),
    "nested_beyond_parser_limit": lambda e: Probe(
        422, "Invalid JSON", b'{"input": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    ),
    "deeply_nested_input": lambda e: Probe(422, "valid integer", nested(e, 1000)),
    "deeply_nested_config": lambda e: Probe(
        422, "valid string", nested(e, 1000, "config"), route="/template"
    ),
    "huge_string_input": lambda e: Probe(422, "valid integer", body(e, "a" * (MAX_BODY - 100))),
    "nul_in_input": lambda e: Probe(422, "valid integer", body(e, "\x00")),
    "input_wrong_type_string": lambda e: Probe(422, "valid integer", body(e, "one")),
    "input_wrong_type_object": lambda e: Probe(422, "valid integer", body(e, {"x": 1})),
    "input_wrong_type_float": lambda e: Probe(422, "fractional part", body(e, 1.5)),
    "model_field_wrong_type": lambda e: Probe(
        422, "valid string", body(e, {"text": 5}), route="/model"
    ),
    "model_nested_wrong_type": lambda e: Probe(
        422, '"tags",1', body(e, {"text": "x", "tags": ["ok", 1]}), route="/model"
    ),
    "model_missing_field": lambda e: Probe(
        422, "Field required", body(e, {"repeat": 2}), route="/model"
    ),
    "model_out_of_range": lambda e: Probe(
        422, "less than or equal to 5", body(e, {"text": "x", "repeat": 99}), route="/model"
    ),
    "messages_not_messages": lambda e: Probe(
        422, "no-such-role", body(e, [{"type": "no-such-role", "content": "x"}]), route="/messages"
    ),
    "input_missing": lambda e: Probe(
        422, "Field required", orjson.dumps({"config": {}}) if e != "batch" else b'{"config":{}}'
    ),
    "config_is_string": lambda e: config_probe(e, "x", "config"),
    "config_is_number": lambda e: config_probe(e, 7, "config"),
    "config_is_bool": lambda e: config_probe(e, True, "config"),
    "config_is_null": lambda e: config_probe(e, None, "config"),
    "config_is_list": lambda e: config_probe(
        e, [], "Number of configs" if e == "batch" else "valid dictionary"
    ),
    "configurable_not_object": lambda e: config_probe(
        e, {"configurable": "x"}, "configurable", "/template"
    ),
    "configurable_field_wrong_type": lambda e: config_probe(
        e, {"configurable": {"template": 5}}, "valid string", "/template"
    ),
    "configurable_not_allowed": lambda e: config_probe(
        e, {"configurable": {"template": "hi {name}"}}, "disallowed", "/locked"
    ),
}

BATCH_CASES: dict[str, Probe] = {
    "inputs_not_a_list": Probe(422, "valid list", b'{"inputs": {"a": 1}}'),
    "inputs_missing": Probe(422, "Field required", b'{"config": {}}'),
    "batch_over_limit": Probe(
        422, f"limit is {MAX_BATCH}", orjson.dumps({"inputs": [1] * (MAX_BATCH + 1)})
    ),
    "batch_far_over_limit": Probe(
        422, f"limit is {MAX_BATCH}", orjson.dumps({"inputs": [1] * 10_000})
    ),
    "config_list_too_long": Probe(
        422, "Number of configs (3)", orjson.dumps({"inputs": [1, 2], "config": [{}, {}, {}]})
    ),
    "config_list_too_short": Probe(
        422, "Number of configs (1)", orjson.dumps({"inputs": [1, 2], "config": [{}]})
    ),
    "config_list_item_not_object": Probe(
        422, '"list[dict[str,any]]",1', orjson.dumps({"inputs": [1, 2], "config": [{}, 3]})
    ),
    "empty_batch_bad_config": Probe(
        422,
        "valid string",
        orjson.dumps({"inputs": [], "config": {"configurable": {"template": 5}}}),
        route="/template",
    ),
    "one_bad_input_among_good": Probe(422, '"inputs",1', orjson.dumps({"inputs": [1, "two", 3]})),
}

SINGLE_INPUT_CASES: dict[str, Callable[[str], Probe]] = {}
STREAM_CASES: dict[str, Callable[[str], Probe]] = {
    "callback_events_not_bool": lambda e: Probe(
        422, "callback_events", body(e, callback_events="perhaps")
    ),
}
FILTER_CASES: dict[str, Callable[[str], Probe]] = {
    "filter_not_a_list": lambda e: Probe(422, "include_names", body(e, include_names="x")),
    "filter_item_not_string": lambda e: Probe(422, "exclude_tags", body(e, exclude_tags=[1])),
}

# What LangServe ignored, and so do we (a 422 only on `strict=True` routes): unknown
# body keys, any `kwargs`, config keys a route does not take, `diff`.
IGNORED_CASES: dict[str, Callable[[str], bytes]] = {
    "nul_in_key": lambda e: body(e, **{"\x00": 1}),
    "unknown_top_level_key": lambda e: body(e, evil=1),
    "kwargs_not_empty": lambda e: body(e, kwargs={"stop": ["x"]}),
    "kwargs_list": lambda e: body(e, kwargs=[{}]),
    "config_key_unknown": lambda e: body(e, config={"evil": 1}),
    "config_key_callbacks": lambda e: body(e, config={"callbacks": [{"x": 1}]}),
    "config_key_not_in_config_keys": lambda e: body(e, config={"tags": "not a list"}),
    "diff_not_bool": lambda e: body(e, diff=-1),
}
STRICT_NEEDLES = {
    "nul_in_key": "Extra inputs are not permitted",
    "unknown_top_level_key": "Extra inputs are not permitted",
    "kwargs_not_empty": "kwargs are not supported",
    "config_key_unknown": "Unknown config key 'evil'",
    "config_key_callbacks": "Unknown config key 'callbacks'",
}


def encode_hash(text: str) -> str:
    return str(_LZ.compressToEncodedURIComponent(text))


def _inflating_hash() -> str:
    """A short hash that decompresses to megabytes of otherwise valid config."""
    return encode_hash('{"configurable":{"template":"' + "a" * 2_000_000 + ' {name}"}}')


HASH_CASES: dict[str, tuple[str, int, str]] = {
    "garbage": ("!!!not*a*hash!!!", 400, "Invalid config hash"),
    "garbage_lz_alphabet": ("N4Ig" + "x" * 40, 400, "Invalid config hash"),
    "enormous": ("A" * 5000, 400, "longer than"),
    "not_an_object_array": (encode_hash("[1, 2]"), 400, "Invalid config hash"),
    "not_an_object_string": (encode_hash('"config"'), 400, "Invalid config hash"),
    "not_an_object_null": (encode_hash("null"), 400, "Invalid config hash"),
    "not_json": (encode_hash("{configurable:"), 400, "Invalid config hash"),
    "decompresses_to_megabytes": (_inflating_hash(), 400, "Invalid config hash"),
    "invalid_value": (
        encode_hash('{"configurable": {"template": 5}}'),
        422,
        "valid string",
    ),
}

PLAYGROUND_TARGETS = {
    "dot_dot": "/typed/playground/../../../../etc/passwd",
    "dot_dot_in_hash_route": "/typed/c/N4XyA/playground/../../../etc/passwd",
    "encoded_dot_dot": "/typed/playground/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "encoded_slash": "/typed/playground/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "double_encoded": "/typed/playground/%252e%252e/%252e%252e/etc/passwd",
    "absolute_path": "/typed/playground//etc/passwd",
    "encoded_absolute_path": "/typed/playground/%2fetc%2fpasswd",
    "backslashes": "/typed/playground/..\\..\\..\\..\\etc\\passwd",
    "nul_byte": "/typed/playground/index.html%00.js",
    "nul_then_dot_dot": "/typed/playground/%00/../../pyproject.toml",
    "source_file": "/typed/playground/../../langserve_like/__init__.py",
}


@dataclass
class Server:
    url: str
    log: Path
    _seen: int = 0

    def new_log(self) -> str:
        """What the server logged since the last call."""
        text = self.log.read_text(errors="replace")
        new, self._seen = text[self._seen :], len(text)
        return new


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("hostile") / "uvicorn.log"
    with run_uvicorn("tests.reliability_apps:zoo_app", log_path=log) as url:
        yield Server(url, log)


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def send(client: httpx.Client, path: str, probe: Probe, method: str = "POST") -> httpx.Response:
    content = probe.content() if callable(probe.content) else probe.content
    return client.request(method, path, content=content, headers=probe.headers)


def assert_rejected(response: httpx.Response, status: int, needle: str) -> None:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    assert needle in response.text, response.text[:500]
    assert "Traceback" not in response.text


def assert_still_serving(client: httpx.Client, server: Server) -> None:
    response = client.post("/typed/invoke", json={"input": 41})
    assert response.status_code == 200
    assert response.json()["output"] == 42
    logged = server.new_log()
    assert "Traceback" not in logged
    assert "ERROR" not in logged


def _cases() -> Iterator[Any]:
    for endpoint in POST_ENDPOINTS:
        for name, make in BODY_CASES.items():
            yield pytest.param(endpoint, make(endpoint), id=f"{endpoint}-{name}")
        if endpoint == "batch":
            for name, probe in BATCH_CASES.items():
                yield pytest.param(endpoint, probe, id=f"{endpoint}-{name}")
        else:
            for name, make in SINGLE_INPUT_CASES.items():
                yield pytest.param(endpoint, make(endpoint), id=f"{endpoint}-{name}")
        if endpoint.startswith("stream"):
            for name, make in STREAM_CASES.items():
                yield pytest.param(endpoint, make(endpoint), id=f"{endpoint}-{name}")
        if endpoint in ("stream_log", "stream_events"):
            for name, make in FILTER_CASES.items():
                yield pytest.param(endpoint, make(endpoint), id=f"{endpoint}-{name}")


@pytest.mark.parametrize(("endpoint", "probe"), list(_cases()))
def test_hostile_body_rejected(
    client: httpx.Client, server: Server, endpoint: str, probe: Probe
) -> None:
    response = send(client, f"{probe.route}/{endpoint}", probe)
    assert_rejected(response, probe.status, probe.needle)
    assert_still_serving(client, server)


def _ignored_cases() -> Iterator[Any]:
    for endpoint in POST_ENDPOINTS:
        for name, make in IGNORED_CASES.items():
            if name == "kwargs_list" and endpoint != "batch":
                continue  # a list of kwargs is what LangChain.js sends to /batch only
            yield pytest.param(endpoint, name, make(endpoint), id=f"{endpoint}-{name}")


@pytest.mark.parametrize(("endpoint", "name", "content"), list(_ignored_cases()))
def test_hostile_body_ignored_like_langserve(
    client: httpx.Client, server: Server, endpoint: str, name: str, content: bytes
) -> None:
    response = send(client, f"/typed/{endpoint}", Probe(200, "", content))
    assert response.status_code == 200, response.text[:500]
    if endpoint == "invoke":
        assert response.json()["output"] == 2
    assert_still_serving(client, server)


@pytest.mark.parametrize(("endpoint", "name", "content"), list(_ignored_cases()))
def test_hostile_body_rejected_by_a_strict_route(
    client: httpx.Client, server: Server, endpoint: str, name: str, content: bytes
) -> None:
    response = send(client, f"/strict/{endpoint}", Probe(422, "", content))
    needle = STRICT_NEEDLES.get(name)
    if name == "diff_not_bool" and not endpoint.startswith("stream_"):
        needle = "Extra inputs are not permitted"  # `diff` is a stream_log/events key
    if needle is None:
        # Sent by LangServe's own clients, or a config key the route does not take.
        assert response.status_code == 200, response.text[:500]
    else:
        assert_rejected(response, 422, needle)
    assert_still_serving(client, server)


def _hash_cases() -> Iterator[Any]:
    for endpoint in (*POST_ENDPOINTS, *SCHEMA_ENDPOINTS):
        for name, (config_hash, status, needle) in HASH_CASES.items():
            yield pytest.param(endpoint, config_hash, status, needle, id=f"{endpoint}-{name}")


@pytest.mark.parametrize(("endpoint", "config_hash", "status", "needle"), list(_hash_cases()))
def test_hostile_config_hash_rejected(
    client: httpx.Client,
    server: Server,
    endpoint: str,
    config_hash: str,
    status: int,
    needle: str,
) -> None:
    path = f"/template/c/{config_hash}/{endpoint}"
    if endpoint in SCHEMA_ENDPOINTS:
        response = client.get(path)
    else:
        response = client.post(path, content=body(endpoint, {"name": "x"}))
    assert_rejected(response, status, needle)
    assert_still_serving(client, server)


@pytest.mark.parametrize(
    ("config_hash", "status", "needle"),
    [HASH_CASES["garbage"], HASH_CASES["invalid_value"]],
    ids=["garbage", "invalid_value"],
)
def test_hostile_config_hash_rejected_on_empty_batch(
    client: httpx.Client, server: Server, config_hash: str, status: int, needle: str
) -> None:
    response = client.post(f"/template/c/{config_hash}/batch", json={"inputs": []})
    assert_rejected(response, status, needle)
    assert_still_serving(client, server)


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_hostile_configurable_through_hash_not_allowed(
    client: httpx.Client, server: Server, endpoint: str
) -> None:
    config_hash = encode_hash('{"configurable": {"template": "hi {name}"}}')
    response = client.post(f"/locked/c/{config_hash}/{endpoint}", content=body(endpoint, {}))
    assert_rejected(response, 422, "disallowed")
    assert_still_serving(client, server)


def raw_get(base_url: str, target: str) -> tuple[int, bytes]:
    """GET with the request target sent byte for byte (httpx would normalise `..`)."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        conn.putrequest("GET", target, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("target", PLAYGROUND_TARGETS.values(), ids=PLAYGROUND_TARGETS.keys())
def test_hostile_playground_path_rejected(
    client: httpx.Client, server: Server, target: str
) -> None:
    status, content = raw_get(server.url, target)
    assert 400 <= status < 500, content[:300]
    assert b"Not Found" in content or b"Bad Request" in content or b"Invalid" in content
    for secret in (b"root:", b"[project]", b"__version__"):
        assert secret not in content
    assert_still_serving(client, server)


def test_hostile_inputs_that_look_odd_but_are_valid_still_work(client: httpx.Client) -> None:
    """The rejections are not overreaching: what official clients send still runs."""
    official = {
        "input": {"name": "x"},
        "config": {"tags": [], "metadata": {"k": "v"}, "recursion_limit": 25, "configurable": {}},
        "kwargs": {},
    }
    assert client.post("/template/invoke", json=official).status_code == 200
    langchain_js = {
        "input": {"name": "x"},
        "config": {"tags": [], "metadata": {}, "recursionLimit": 25, "runName": "mine"},
        "kwargs": {},
    }
    assert client.post("/template/invoke", json=langchain_js).status_code == 200
    no_kwargs = {"input": {"name": "x"}, "kwargs": None}
    assert client.post("/template/invoke", json=no_kwargs).status_code == 200
    assert client.post("/chat/invoke", json={"input": {"topic": "\x00 \ud7ff"}}).status_code == 200
    assert client.post("/typed/invoke", json={"input": "41"}).json()["output"] == 42

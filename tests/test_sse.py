import pytest

from langserve_like.server.sse import encode_event


@pytest.mark.parametrize(
    ("event", "data", "frame"),
    [
        ("data", b'{"a":1}', b'event: data\r\ndata: {"a":1}\r\n\r\n'),
        ("metadata", b'{"run_id":"x"}', b'event: metadata\r\ndata: {"run_id":"x"}\r\n\r\n'),
        ("end", None, b"event: end\r\n\r\n"),
        ("data", b"a\nb", b"event: data\r\ndata: a\r\ndata: b\r\n\r\n"),
        ("data", b"a\r\nb\rc", b"event: data\r\ndata: a\r\ndata: b\r\ndata: c\r\n\r\n"),
        ("data", b'""', b'event: data\r\ndata: ""\r\n\r\n'),
    ],
    ids=["data", "metadata", "end-has-no-data", "multiline", "mixed-newlines", "empty-string"],
)
def test_encode_event_writes_langserve_frames(event: str, data: bytes | None, frame: bytes) -> None:
    assert encode_event(event, data) == frame

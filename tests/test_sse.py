import pytest

from langserve_like.server.sse import encode_event, encode_record


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


def test_encode_record_writes_an_id_line_when_the_record_has_an_id() -> None:
    # A background run's replay after Last-Event-ID needs the id on every event.
    assert encode_record(("data", b'{"a": 1}', "7")) == (
        b'event: data\r\nid: 7\r\ndata: {"a": 1}\r\n\r\n'
    )
    assert encode_record(("end", None, "8")) == b"event: end\r\nid: 8\r\n\r\n"
    assert encode_record(("data", b"1", None)) == encode_event("data", b"1")

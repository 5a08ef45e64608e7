"""The SSE parser against the WHATWG event-stream rules."""

from __future__ import annotations

from bay_sdk._sse import SSEEvent, SSEParser


def parse(*chunks: bytes | str) -> tuple[list[SSEEvent], SSEParser]:
    p = SSEParser()
    out: list[SSEEvent] = []
    for c in chunks:
        out += p.feed(c)
    out += p.close()
    return out, p


def test_event_and_data() -> None:
    evs, _ = parse(b'event: start\ndata: {"a": 1}\n\n')
    assert evs == [SSEEvent("start", '{"a": 1}')]


def test_default_event_name_is_message() -> None:
    evs, _ = parse(b"data: x\n\n")
    assert evs[0].event == "message"


def test_multiline_data_joined_with_newline() -> None:
    evs, _ = parse(b"data: one\ndata:two\ndata:  three\n\n")
    assert evs[0].data == "one\ntwo\n three"  # one space stripped, no more


def test_comments_ignored_and_counted() -> None:
    evs, p = parse(b": keepalive\n\n: another\nevent: stdout\n: in between\ndata: x\n\n")
    assert evs == [SSEEvent("stdout", "x")]
    assert p.comments == 3


def test_line_endings_crlf_cr_lf() -> None:
    evs, _ = parse(b"event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\revent: c\ndata: 3\n\n")
    assert [(e.event, e.data) for e in evs] == [("a", "1"), ("b", "2"), ("c", "3")]


def test_crlf_split_between_chunks() -> None:
    # CR ends one chunk, LF opens the next: one line end, not two (which
    # would dispatch an empty line in between).
    evs, _ = parse(b"event: a\r", b"\ndata: 1\r", b"\n\r", b"\n")
    assert evs == [SSEEvent("a", "1")]


def test_byte_by_byte() -> None:
    raw = 'event: stdout\ndata: {"text": "h\u00e9llo \u20ac \U0001f600"}\n\n'.encode()
    evs, _ = parse(*[raw[i:i + 1] for i in range(len(raw))])
    assert evs == [SSEEvent("stdout", '{"text": "h\u00e9llo \u20ac \U0001f600"}')]


def test_event_without_data_is_not_dispatched() -> None:
    evs, _ = parse(b"event: nothing\n\nevent: x\ndata\n\n")
    # `data` without a colon is a data line with an empty value.
    assert evs == [SSEEvent("x", "")]


def test_unknown_fields_and_field_without_colon() -> None:
    evs, _ = parse(b"foo: bar\nevent\ndata: y\n\n")
    assert evs == [SSEEvent("message", "y")]  # "event" alone sets an empty name


def test_id_and_retry() -> None:
    evs, p = parse(b"id: 7\nretry: 1500\ndata: a\n\nid: bad\x00id\nretry: 1x\ndata: b\n\n")
    assert evs[0].id == "7" and evs[0].retry == 1500
    assert evs[1].id == "7" and p.retry == 1500  # NUL id and non-digit retry ignored


def test_bom_is_dropped() -> None:
    evs, _ = parse(b"\xef\xbb\xbfdata: x\n\n")
    assert evs == [SSEEvent("message", "x")]


def test_unterminated_event_dropped_at_end() -> None:
    evs, _ = parse(b"data: complete\n\ndata: incomplete\n")
    assert evs == [SSEEvent("message", "complete")]
    evs, _ = parse(b"data: complete\n\ndata: no newline at all")
    assert evs == [SSEEvent("message", "complete")]


def test_invalid_utf8_replaced() -> None:
    evs, _ = parse(b"data: \xff\n\n")
    assert evs[0].data == "\ufffd"


def test_long_line_in_many_chunks() -> None:
    big = "x" * 300_000
    raw = f"event: display_data\ndata: {big}\n\n".encode()
    evs, _ = parse(*[raw[i:i + 4096] for i in range(0, len(raw), 4096)])
    assert evs == [SSEEvent("display_data", big)]

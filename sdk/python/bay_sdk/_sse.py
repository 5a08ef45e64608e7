"""A Server-Sent Events parser (the WHATWG HTML "event stream" rules).

Feed it the body's bytes as they come; it returns the events completed so
far. Rules kept: lines end with CRLF, LF or CR (a CR at the end of one chunk
and an LF at the start of the next make one line end); a leading BOM is
dropped; a line starting with ``:`` is a comment; ``field: value`` loses one
space after the colon, a line without a colon is a field with an empty
value; ``data`` lines are joined with ``\\n``; ``event`` names the event
(``message`` when absent); ``id`` without NUL sets the last event id;
``retry`` with only digits sets the reconnection time; other fields are
ignored; a blank line dispatches the event, unless no data was given; an
event not closed by a blank line when the stream ends is dropped.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

__all__ = ["SSEEvent", "SSEParser"]

_EOL = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class SSEEvent:
    """One dispatched event."""

    event: str
    data: str
    id: str | None = None
    retry: int | None = None


class SSEParser:
    """Incremental event-stream parser."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending: list[str] = []  # a line not ended yet
        self._started = False
        self._skip_lf = False  # the previous chunk ended with CR
        self._event = ""
        self._data: list[str] = []
        self._has_data = False
        self.last_event_id: str | None = None
        self.retry: int | None = None
        #: How many comment lines were seen (``: keepalive`` heartbeats).
        self.comments = 0

    def feed(self, chunk: bytes | str) -> list[SSEEvent]:
        """Parse the next piece of the stream; return the events it completed."""
        text = self._decoder.decode(chunk) if isinstance(chunk, bytes) else chunk
        return self._feed_text(text)

    def close(self) -> list[SSEEvent]:
        """The stream ended: flush the decoder. A last line without its end is
        processed, but an event without its blank line is not dispatched."""
        text = self._decoder.decode(b"", final=True)
        events = self._feed_text(text)
        if self._pending:
            line, self._pending = "".join(self._pending), []
            self._line(line)  # cannot dispatch: a non-empty line
        self._reset_event()
        return events

    def _feed_text(self, text: str) -> list[SSEEvent]:
        if not text:
            return []
        if not self._started:
            self._started = True
            if text.startswith("\ufeff"):
                text = text[1:]
        if self._skip_lf:
            self._skip_lf = False
            if text.startswith("\n"):
                text = text[1:]
        events: list[SSEEvent] = []
        start = 0
        n = len(text)
        for m in _EOL.finditer(text):
            line = text[start:m.start()]
            if self._pending:  # the start of this line came in earlier chunks
                self._pending.append(line)
                line = "".join(self._pending)
                self._pending = []
            ev = self._line(line)
            if ev is not None:
                events.append(ev)
            start = m.end()
            if m.group() == "\r" and start == n:
                self._skip_lf = True  # its LF may open the next chunk
        if start < n:
            self._pending.append(text[start:])
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            self.comments += 1
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
            self._has_data = True
        elif name == "id":
            if "\x00" not in value:
                self.last_event_id = value
        elif name == "retry":
            if value and value.isascii() and value.isdigit():
                self.retry = int(value)
        return None

    def _dispatch(self) -> SSEEvent | None:
        if not self._has_data:
            self._reset_event()
            return None
        ev = SSEEvent(event=self._event or "message", data="\n".join(self._data),
                      id=self.last_event_id, retry=self.retry)
        self._reset_event()
        return ev

    def _reset_event(self) -> None:
        self._event = ""
        self._data = []
        self._has_data = False

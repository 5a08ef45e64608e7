"""Fixtures: a scriptable HTTP stub (stdlib ``http.server``) for the unit
tests, and the live Bay (``BAY_URL``, ``BAY_API_KEY``) for the live tests."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

# The package is imported from the source tree, not from an installation.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


@dataclass
class Seen:
    """A request the stub received."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Reply:
    """What the stub answers: ``status``, ``headers``, ``body``; or, with
    ``chunks``, a body written piece by piece (``sleep`` seconds apart) and
    ended by closing the connection; ``drop`` closes the connection without
    answering."""

    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] | None = None
    sleep: float = 0.0
    drop: bool = False


def envelope(status: int, code: str, message: str = "stub", details: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> Reply:
    err: dict[str, Any] = {"code": code, "message": message, "request_id": "rid-stub"}
    if details:
        err["details"] = details
    return Reply(status, {"error": err}, headers or {})


Responder = Callable[[Seen], Reply]


class Stub:
    """An HTTP server answering from a script: ``add(reply, ...)`` queues
    replies (a Reply or a function of the request); when the queue is empty
    ``default`` answers."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[Seen] = []
        self._script: list[Reply | Responder] = []
        self._lock = threading.Lock()
        self.default: Reply | Responder = Reply(404, {"error": {"code": "not_found", "message": "no script",
                                                                "request_id": "rid-stub"}})
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                body = self._read_body()
                path, _, query = self.path.partition("?")
                seen = Seen(self.command, path, query, {k.lower(): v for k, v in self.headers.items()}, body,
                            time.monotonic())
                with stub._lock:
                    stub.requests.append(seen)
                    r = stub._script.pop(0) if stub._script else stub.default
                reply = r(seen) if callable(r) else r
                self._answer(reply)

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return bytes(out)
                        out += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _answer(self, reply: Reply) -> None:
                if reply.sleep and not reply.chunks:
                    time.sleep(reply.sleep)
                if reply.drop:
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                body = reply.body
                ctype = None
                if isinstance(body, (dict, list)):
                    body, ctype = json.dumps(body).encode(), "application/json"
                elif isinstance(body, str):
                    body = body.encode()
                self.send_response(reply.status)
                headers = dict(reply.headers)
                if ctype and "Content-Type" not in headers:
                    headers["Content-Type"] = ctype
                headers.setdefault("X-Request-Id", "rid-header")
                for k, v in headers.items():
                    self.send_header(k, v)
                if reply.chunks is not None:
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.close_connection = True
                    for c in reply.chunks:
                        self.wfile.write(c)
                        self.wfile.flush()
                        if reply.sleep:
                            time.sleep(reply.sleep)
                    return
                data = body or b""
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def add(self, *replies: Reply | Responder) -> None:
        with self._lock:
            self._script.extend(replies)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[Stub]:
    s = Stub()
    yield s
    s.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- live Bay -------------------------------------------------------------------


@pytest.fixture(scope="session")
def live() -> dict[str, str]:
    """BAY_URL and BAY_API_KEY of a running Bay; the live tests skip without."""
    url = os.environ.get("BAY_URL")
    if not url:
        pytest.skip("BAY_URL is not set: no Bay to test against")
    return {"url": url, "key": os.environ.get("BAY_API_KEY", "")}

"""What the async and the sync client share: settings, the description of a
call (:class:`Call`), the retry policy (:class:`RetryState`) and the
multipart body of uploads. Nothing here does I/O on the network; the
transports in ``_transport.py`` only send what a :class:`Call` describes
and ask :class:`RetryState` what to do with the outcome.
"""

from __future__ import annotations

import json
import logging
import os
import random
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Generic, TypeVar, Union
from urllib.parse import quote

import httpx

from ._version import __version__
from .errors import BayConnectionError, BayError, error_from_response

log = logging.getLogger("bay_sdk")

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 3
#: Bay's default exec.stream_heartbeat_seconds.
DEFAULT_STREAM_HEARTBEAT = 15.0
#: The longest ``?wait=`` Bay accepts on GET …/executions/{id}.
MAX_WAIT_SECONDS = 60
#: Backoff: min(BACKOFF_BASE · 2^n, BACKOFF_MAX) plus up to BACKOFF_JITTER of it.
BACKOFF_BASE = 0.2
BACKOFF_MAX = 2.0
BACKOFF_JITTER = 0.2
#: The longest wait a Retry-After (or details.retry_after_ms) gets.
MAX_RETRY_AFTER = 60.0

# Retry classes of a call (see RetryState).
RETRY_SAFE = "safe"  # GET, PUT, DELETE, stop, keepalive, calls sent with an Idempotency-Key
RETRY_EXEC = "exec"  # sync and stream exec: 503 session_not_ready and connection refused only
RETRY_CONNECT = "connect"  # other POSTs: connection refused only
RETRY_NEVER = "never"  # an upload from a stream that cannot be rewound


@dataclass(frozen=True)
class Settings:
    """A client's resolved configuration."""

    base_url: str
    access_token: str | None
    owner: str | None
    timeout: float
    max_retries: int
    stream_heartbeat: float

    @property
    def stream_read_timeout(self) -> float:
        """Silence after which a stream counts as dead: max(60, 4 × heartbeat)."""
        return max(60.0, 4.0 * self.stream_heartbeat)

    def headers(self) -> dict[str, str]:
        h = {"User-Agent": f"bay-sdk-python/{__version__} httpx/{httpx.__version__}", "Accept": "application/json"}
        if self.access_token:
            h["Authorization"] = f"Bearer {self.access_token}"
        if self.owner:
            h["X-Owner"] = self.owner
        return h


def _env(*names: str) -> str | None:
    for n in names:
        v = os.environ.get(n)
        if v is not None and v.strip() != "":
            return v.strip()
    return None


def resolve_settings(
    endpoint_url: str | None,
    access_token: str | None,
    owner: str | None,
    timeout: float | None,
    max_retries: int | None,
    stream_heartbeat: float | None,
) -> Settings:
    """Arguments win; then ``BAY_URL`` (else ``BAY_ENDPOINT``), ``BAY_API_KEY``
    (else ``BAY_TOKEN``), ``BAY_TIMEOUT``, ``BAY_MAX_RETRIES``; then defaults."""
    url = endpoint_url or _env("BAY_URL", "BAY_ENDPOINT")
    if not url:
        raise ValueError("endpoint_url is required (or set BAY_URL)")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"endpoint_url must be an http(s) URL, got {url!r}")
    token = access_token if access_token is not None else _env("BAY_API_KEY", "BAY_TOKEN")
    if timeout is None:
        env = _env("BAY_TIMEOUT")
        try:
            timeout = float(env) if env is not None else DEFAULT_TIMEOUT
        except ValueError:
            raise ValueError(f"BAY_TIMEOUT must be a number of seconds, got {env!r}") from None
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    if max_retries is None:
        env = _env("BAY_MAX_RETRIES")
        try:
            max_retries = int(env) if env is not None else DEFAULT_MAX_RETRIES
        except ValueError:
            raise ValueError(f"BAY_MAX_RETRIES must be an integer, got {env!r}") from None
    if max_retries < 0:
        raise ValueError("max_retries must be >= 0")
    hb = DEFAULT_STREAM_HEARTBEAT if stream_heartbeat is None else float(stream_heartbeat)
    return Settings(url.rstrip("/"), token or None, owner or None, float(timeout), int(max_retries), hb)


def seg(value: str) -> str:
    """One path segment (an id), percent-encoded."""
    if not isinstance(value, str) or value == "":
        raise ValueError(f"an id must be a non-empty string, got {value!r}")
    return quote(value, safe="")


def new_idempotency_key() -> str:
    return "sdk-" + uuid.uuid4().hex


def clean_params(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    """Query parameters without the ``None`` ones; booleans as true/false."""
    if not params:
        return None
    out: dict[str, str] = {}
    for k, v in params.items():
        if v is None:
            continue
        if isinstance(v, bool):
            out[k] = "true" if v else "false"
        else:
            out[k] = str(v)
    return out


@dataclass(frozen=True)
class Answer:
    """A complete HTTP answer handed to a parser."""

    status: int
    headers: Mapping[str, str]
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content) if self.content else None


def parse_json(a: Answer) -> Any:
    return a.json()


def parse_none(a: Answer) -> None:
    return None


NO_BODY: Any = object()


@dataclass
class Call(Generic[T]):
    """One logical API call: what to send, how to retry, how to read the
    answer. Built once, sent once per attempt (so an Idempotency-Key in
    ``headers`` is the same on every retry)."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = NO_BODY
    body: Multipart | None = None
    headers: dict[str, str] = field(default_factory=dict)
    retry: str = RETRY_SAFE
    parse: Callable[[Answer], T] = parse_json  # type: ignore[assignment]
    #: Read time-out for this call (None: the client's).
    read_timeout: float | None = None


# -- the retry policy ---------------------------------------------------------


def backoff(attempt: int) -> float:
    """min(0.2 · 2^n, 2 s) plus up to 20 % jitter."""
    base = min(BACKOFF_BASE * (2 ** attempt), BACKOFF_MAX)
    return base * (1.0 + random.random() * BACKOFF_JITTER)


def _refused(exc: BaseException) -> bool:
    """The connection was never made: nothing reached Bay."""
    return isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))


def _reset(exc: BaseException) -> bool:
    """The connection broke before any answer (the request may have arrived)."""
    return isinstance(exc, (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError))


#: Marker returned by RetryState.after_status: the call succeeded after all.
DONE = object()


class RetryState:
    """Decides, attempt after attempt, whether a call is tried again and
    after how long (bay-api's safe-retry rules, agent-reach.md §5):

    * connection refused (or a connect time-out): every call but an upload
      that cannot be rewound;
    * connection reset before any answer: ``RETRY_SAFE`` calls;
    * 429: ``RETRY_SAFE`` calls; 503: ``RETRY_SAFE`` calls, and exec calls
      when the code is ``session_not_ready``; both wait ``Retry-After``, else
      ``details.retry_after_ms``, else the backoff;
    * 504: ``RETRY_SAFE`` GETs only; never 500 or 502;
    * a DELETE answered 404 after an attempt that got no answer succeeded.
    """

    def __init__(self, call: Call[Any], max_retries: int) -> None:
        self.call = call
        self.max_retries = max_retries
        self.attempt = 0
        self.unanswered = False

    def _next(self, delay: float, why: str) -> float:
        log.debug("bay_sdk: retrying %s %s in %.2fs (%s)", self.call.method, self.call.path, delay, why)
        self.attempt += 1
        return delay

    def _left(self) -> bool:
        return self.attempt < self.max_retries

    def after_exception(self, exc: Exception) -> float:
        """Delay before the next attempt, or raises BayConnectionError."""
        kind = self.call.retry
        if _reset(exc):
            self.unanswered = True
        retry = False
        if kind != RETRY_NEVER and _refused(exc):
            retry = True
        elif kind == RETRY_SAFE and _reset(exc):
            retry = True
        if retry and self._left():
            return self._next(backoff(self.attempt), type(exc).__name__)
        raise connection_error(self.call, exc) from exc

    def after_status(self, status: int, headers: Mapping[str, str], body: bytes) -> Any:
        """For an answer ≥ 400: a delay before the next attempt, ``DONE`` when
        the call counts as done, else raises the mapped BayError."""
        err = error_from_response(status, headers, body)
        if self.call.method == "DELETE" and status == 404 and self.unanswered and err.code == "not_found":
            log.debug("bay_sdk: %s answered 404 after an unanswered attempt: deleted", self.call.path)
            return DONE
        delay = self._delay(status, err)
        if delay is not None and self._left():
            return self._next(delay, f"HTTP {status} {err.code}")
        raise err

    def _delay(self, status: int, err: BayError) -> float | None:
        kind = self.call.retry
        hinted = None if err.retry_after is None else min(err.retry_after, MAX_RETRY_AFTER)
        if status == 429 and kind == RETRY_SAFE:
            return hinted if hinted is not None else backoff(self.attempt)
        if status == 503 and err.code == "service_unavailable":
            # Bay was starting: nothing was done, any call may go again.
            return hinted if hinted is not None else backoff(self.attempt)
        if status == 503 and (kind == RETRY_SAFE or (kind == RETRY_EXEC and err.code == "session_not_ready")):
            return hinted if hinted is not None else backoff(self.attempt)
        if status == 504 and kind == RETRY_SAFE and self.call.method == "GET":
            return backoff(self.attempt)
        return None


def connection_error(call: Call[Any], exc: BaseException, execution_id: str | None = None) -> BayConnectionError:
    what = type(exc).__name__
    text = str(exc) or what
    if isinstance(exc, httpx.TimeoutException):
        message = f"No answer from Bay in time ({what}) for {call.method} {call.path}"
    else:
        message = f"Connection to Bay failed ({what}: {text}) for {call.method} {call.path}"
    if isinstance(exc, httpx.WriteError):
        message += (" (Bay may have refused the request body before it was sent, e.g. 413 payload_too_large"
                    " above its body limit; this httpx version cannot read such an answer)")
    return BayConnectionError(None, message, {"exception": what, "reason": text}, execution_id=execution_id)


# -- multipart uploads ----------------------------------------------------------

UploadSource = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", IO[bytes]]

CHUNK = 64 * 1024


def _filename(remote_path: str) -> str:
    base = remote_path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    safe = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in base)
    return safe or "file"


class Multipart:
    """The body of ``POST …/filesystem/upload``: the ``path`` field first (so
    Bay streams the file straight through), then ``file``, read in 64 KiB
    chunks from bytes, a local path or a binary file object. Rewindable (so
    retried) unless the file object cannot seek."""

    def __init__(self, remote_path: str, source: UploadSource) -> None:
        if not isinstance(remote_path, str):
            raise TypeError("path must be a string")
        self.boundary = "bay-sdk-" + uuid.uuid4().hex
        b = self.boundary.encode()
        self._head = (
            b"--" + b + b'\r\nContent-Disposition: form-data; name="path"\r\n\r\n'
            + remote_path.encode("utf-8") + b"\r\n"
            + b"--" + b + b'\r\nContent-Disposition: form-data; name="file"; filename="'
            + _filename(remote_path).encode() + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
        )
        self._tail = b"\r\n--" + b + b"--\r\n"
        self._bytes: bytes | None = None
        self._path: str | None = None
        self._file: IO[bytes] | None = None
        self._start = 0
        self._uses = 0
        size: int | None
        if isinstance(source, (bytes, bytearray, memoryview)):
            self._bytes = bytes(source)
            size = len(self._bytes)
            self.rewindable = True
        elif isinstance(source, (str, os.PathLike)):
            self._path = os.fspath(source)
            if not os.path.isfile(self._path):
                raise FileNotFoundError(f"no such local file: {self._path}")
            size = os.path.getsize(self._path)
            self.rewindable = True
        elif hasattr(source, "read"):
            self._file = source
            seekable = False
            try:
                seekable = bool(source.seekable())
            except (AttributeError, OSError, ValueError):
                seekable = False
            if seekable:
                self._start = source.tell()
                end = source.seek(0, os.SEEK_END)
                source.seek(self._start)
                size = end - self._start
            else:
                size = None
            self.rewindable = seekable
        else:
            raise TypeError("upload content must be bytes, a local path or a binary file object, "
                            f"not {type(source).__name__}")
        self.size = size
        self.content_length = None if size is None else len(self._head) + size + len(self._tail)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def headers(self) -> dict[str, str]:
        h = {"Content-Type": self.content_type}
        if self.content_length is not None:
            h["Content-Length"] = str(self.content_length)
        return h

    def chunks(self) -> Iterator[bytes]:
        """The whole body, once per attempt."""
        self._uses += 1
        if self._uses > 1 and not self.rewindable:
            raise RuntimeError("this upload's file object cannot be rewound")
        return self._gen()

    def _gen(self) -> Iterator[bytes]:
        yield self._head
        if self._bytes is not None:
            for i in range(0, len(self._bytes), CHUNK):
                yield self._bytes[i:i + CHUNK]
        elif self._path is not None:
            with open(self._path, "rb") as f:
                yield from _read_exactly(f, self.size)
        elif self._file is not None:
            if self.rewindable:
                self._file.seek(self._start)
            yield from _read_exactly(self._file, self.size)
        yield self._tail

    async def achunks(self) -> AsyncIterator[bytes]:
        for c in self.chunks():
            yield c


def _read_exactly(f: IO[bytes], size: int | None) -> Iterator[bytes]:
    left = size
    while left is None or left > 0:
        chunk = f.read(CHUNK if left is None else min(CHUNK, left))
        if not chunk:
            break
        if not isinstance(chunk, (bytes, bytearray)):
            raise TypeError("upload file objects must be opened in binary mode")
        if left is not None:
            left -= len(chunk)
        yield bytes(chunk)
    if left:
        raise OSError(f"the file shrank during the upload ({left} bytes missing)")

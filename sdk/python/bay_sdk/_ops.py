"""The API's endpoints as :class:`~bay_sdk._core.Call` builders, shared by
the async and the sync classes: each public method of either builds its call
here and hands it to its transport. Also the pieces of multi-step operations
that do no I/O: the stream decoder, the wait clock, the temp file of
``download_to``.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from ._core import (
    MAX_WAIT_SECONDS,
    NO_BODY,
    RETRY_CONNECT,
    RETRY_EXEC,
    RETRY_NEVER,
    RETRY_SAFE,
    Answer,
    Call,
    Multipart,
    Settings,
    UploadSource,
    connection_error,
    new_idempotency_key,
    parse_none,
    seg,
)
from ._sse import SSEParser
from .errors import BayConnectionError, error_from_body
from .types import (
    ExecutionHistoryEntry,
    ExecutionHistoryList,
    FileInfo,
    LockerInfo,
    LockerList,
    ProfileList,
    PythonExecResult,
    SandboxCapabilities,
    SandboxInfo,
    SandboxList,
    ShellExecResult,
    StreamEvent,
    STREAM_EVENT_TYPES,
    UploadResult,
)


class _Unset:
    """An argument left out (unlike ``None``, which clears)."""

    _inst: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._inst is None:
            cls._inst = super().__new__(cls)
        return cls._inst

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()

#: Page size the history methods allow at most (Bay's limit).
MAX_HISTORY_LIMIT = 200


def _model(cls: Any) -> Any:
    return lambda a: cls.from_dict(a.json())


def _idem(key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": key if key else new_idempotency_key()}


def _tags(tags: Sequence[str] | str | None) -> list[str] | str | None:
    if tags is None or isinstance(tags, str):
        return tags
    return [str(t) for t in tags]


def _tags_query(tags: Sequence[str] | str | None) -> str | None:
    if tags is None:
        return None
    items = tags.split(",") if isinstance(tags, str) else list(tags)
    joined = ",".join(str(t).strip() for t in items if str(t).strip())
    return joined or None


def _time_query(v: datetime | str | None) -> str | None:
    if v is None or isinstance(v, str):
        return v
    if v.tzinfo is None:
        v = v.replace(tzinfo=timezone.utc)
    return v.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _sb(sandbox_id: str) -> str:
    return "/v1/sandboxes/" + seg(sandbox_id)


# -- sandboxes and profiles ---------------------------------------------------


def create_sandbox(profile: str | None, locker_id: str | None, ttl: int | None,
                   idempotency_key: str | None) -> Call[SandboxInfo]:
    body: dict[str, Any] = {}
    if profile is not None:
        body["profile"] = profile
    if locker_id is not None:
        body["locker_id"] = locker_id
    if ttl is not None:
        body["ttl"] = ttl
    return Call("POST", "/v1/sandboxes", json=body, headers=_idem(idempotency_key), parse=_model(SandboxInfo))


def get_sandbox(sandbox_id: str) -> Call[SandboxInfo]:
    return Call("GET", _sb(sandbox_id), parse=_model(SandboxInfo))


def list_sandboxes(limit: int | None, cursor: str | None, status: Any) -> Call[SandboxList]:
    st = getattr(status, "value", status)
    return Call("GET", "/v1/sandboxes", params={"limit": limit, "cursor": cursor, "status": st},
                parse=_model(SandboxList))


def list_profiles() -> Call[ProfileList]:
    return Call("GET", "/v1/profiles", parse=_model(ProfileList))


def stop_sandbox(sandbox_id: str) -> Call[None]:
    return Call("POST", _sb(sandbox_id) + "/stop", parse=parse_none)


def keepalive(sandbox_id: str) -> Call[None]:
    return Call("POST", _sb(sandbox_id) + "/keepalive", parse=parse_none)


def delete_sandbox(sandbox_id: str) -> Call[None]:
    return Call("DELETE", _sb(sandbox_id), parse=parse_none)


def extend_ttl(sandbox_id: str, seconds: int, idempotency_key: str | None) -> Call[SandboxInfo]:
    return Call("POST", _sb(sandbox_id) + "/extend_ttl", json={"extend_by": seconds},
                headers=_idem(idempotency_key), parse=_model(SandboxInfo))


def capabilities(sandbox_id: str, refresh: bool) -> Call[SandboxCapabilities]:
    return Call("GET", _sb(sandbox_id) + "/capabilities", params={"refresh": True if refresh else None},
                parse=_model(SandboxCapabilities))


# -- execution ----------------------------------------------------------------


def _exec_body(kind: str, code: str, cwd: str | None, timeout: int | None, include_code: bool,
               description: str | None, tags: Sequence[str] | str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"code" if kind == "python" else "command": code}
    if timeout is not None:
        body["timeout"] = timeout
    if cwd is not None:
        body["cwd"] = cwd
    if description is not None:
        body["description"] = description
    if tags is not None:
        body["tags"] = _tags(tags)
    if include_code:
        body["include_code"] = True
    return body


def _exec_read_timeout(s: Settings, timeout: int | None) -> float:
    # The code may run for `timeout` seconds; the client's own time-out
    # covers the rest (a cold start of the runtime, the trip).
    return (30 if timeout is None else timeout) + s.timeout


def exec_sync(s: Settings, sandbox_id: str, kind: str, code: str, cwd: str | None, timeout: int | None,
              include_code: bool, description: str | None, tags: Any) -> Call[Any]:
    result = PythonExecResult if kind == "python" else ShellExecResult
    return Call("POST", f"{_sb(sandbox_id)}/{kind}/exec",
                json=_exec_body(kind, code, cwd, timeout, include_code, description, tags),
                retry=RETRY_EXEC, parse=_model(result), read_timeout=_exec_read_timeout(s, timeout))


def exec_stream(s: Settings, sandbox_id: str, kind: str, code: str, cwd: str | None, timeout: int | None,
                include_code: bool, description: str | None, tags: Any) -> Call[None]:
    c: Call[None] = Call("POST", f"{_sb(sandbox_id)}/{kind}/exec/stream",
                         json=_exec_body(kind, code, cwd, timeout, include_code, description, tags),
                         retry=RETRY_EXEC, parse=parse_none, read_timeout=max(s.stream_read_timeout, s.timeout))
    c.headers["Accept"] = "text/event-stream"
    return c


def exec_async(sandbox_id: str, kind: str, code: str, cwd: str | None, timeout: int | None,
               description: str | None, tags: Any, idempotency_key: str | None) -> Call[ExecutionHistoryEntry]:
    return Call("POST", f"{_sb(sandbox_id)}/{kind}/exec/async",
                json=_exec_body(kind, code, cwd, timeout, False, description, tags),
                headers=_idem(idempotency_key), parse=_model(ExecutionHistoryEntry))


def _kind(exec_type: str | None, kind: str | None) -> str | None:
    if kind is not None and exec_type is not None and kind != exec_type:
        raise ValueError("kind and exec_type disagree")
    return kind if kind is not None else exec_type


def execution_history(
    sandbox_id: str, *, kind: str | None, exec_type: str | None, success: bool | None, success_only: bool,
    tags: Sequence[str] | str | None, has_description: bool | None, has_notes: bool | None,
    status: str | None, order: str | None, since: datetime | str | None, until: datetime | str | None,
    limit: int | None, cursor: str | None,
) -> Call[ExecutionHistoryList]:
    if success_only:
        if success is False:
            raise ValueError("success_only=True contradicts success=False")
        success = True
    if limit is not None:
        limit = max(1, min(int(limit), MAX_HISTORY_LIMIT))
    params = {
        "kind": _kind(exec_type, kind), "success": success, "tags": _tags_query(tags),
        "has_description": has_description, "status": getattr(status, "value", status), "order": order,
        "since": _time_query(since), "until": _time_query(until), "limit": limit, "cursor": cursor,
    }

    def parse(a: Answer) -> ExecutionHistoryList:
        page = ExecutionHistoryList.from_dict(a.json())
        if has_notes is None:
            return page
        # /executions has no notes filter: applied to the page.
        kept = [e for e in page.entries if (e.notes is not None and e.notes != "") == has_notes]
        return ExecutionHistoryList(entries=kept, next_cursor=page.next_cursor)

    return Call("GET", _sb(sandbox_id) + "/executions", params=params, parse=parse)


def get_execution(s: Settings, sandbox_id: str, execution_id: str, wait: int | None) -> Call[ExecutionHistoryEntry]:
    if wait is not None and not 0 <= wait <= MAX_WAIT_SECONDS:
        raise ValueError(f"wait must be within 0-{MAX_WAIT_SECONDS} seconds")
    return Call("GET", f"{_sb(sandbox_id)}/executions/{seg(execution_id)}", params={"wait": wait},
                parse=_model(ExecutionHistoryEntry), read_timeout=(wait or 0) + s.timeout)


def get_last_execution(sandbox_id: str, kind: str | None, exec_type: str | None) -> Call[ExecutionHistoryEntry]:
    return Call("GET", _sb(sandbox_id) + "/executions/last", params={"kind": _kind(exec_type, kind)},
                parse=_model(ExecutionHistoryEntry))


def annotate_execution(sandbox_id: str, execution_id: str, description: Any, tags: Any,
                       notes: Any) -> Call[ExecutionHistoryEntry]:
    # A JSON merge patch: left out = unchanged, None = cleared.
    body: dict[str, Any] = {}
    if description is not UNSET:
        body["description"] = description
    if tags is not UNSET:
        body["tags"] = _tags(tags)
    if notes is not UNSET:
        body["notes"] = notes
    c: Call[ExecutionHistoryEntry] = Call("PATCH", f"{_sb(sandbox_id)}/executions/{seg(execution_id)}",
                                          json=body, parse=_model(ExecutionHistoryEntry))
    c.headers["Content-Type"] = "application/merge-patch+json"
    return c


def cancel_execution(sandbox_id: str, execution_id: str) -> Call[ExecutionHistoryEntry]:
    return Call("POST", f"{_sb(sandbox_id)}/executions/{seg(execution_id)}/cancel", retry=RETRY_CONNECT,
                parse=_model(ExecutionHistoryEntry))


class WaitClock:
    """The ``?wait=`` of each poll of ``Execution.wait(timeout)``: at most 60 s
    a request, until the deadline (none: for ever)."""

    def __init__(self, timeout: float | None) -> None:
        if timeout is not None and timeout < 0:
            raise ValueError("timeout must be >= 0")
        self.deadline = None if timeout is None else time.monotonic() + timeout

    def next_wait(self) -> int | None:
        """Seconds for the next poll; None when the deadline has passed."""
        if self.deadline is None:
            return MAX_WAIT_SECONDS
        left = self.deadline - time.monotonic()
        if left <= 0:
            return None
        return min(MAX_WAIT_SECONDS, max(1, math.ceil(left)))


class StreamDecoder:
    """Turns an exec stream's bytes into typed events. ``feed``/``end``
    return the events completed so far; ``check`` then raises what ended the
    stream badly: a ``fault`` (the mapped BayError, with ``execution_id``) or
    a body that ended before ``done`` (BayConnectionError). Events after
    ``done`` and events of unknown names are skipped."""

    def __init__(self, call: Call[Any]) -> None:
        self.call = call
        self.parser = SSEParser()
        self.execution_id: str | None = None
        self.done = False
        self.fault: BaseException | None = None
        self.ended = False

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        return self._events(self.parser.feed(chunk))

    def end(self) -> list[StreamEvent]:
        """The body ended: its last events."""
        self.ended = True
        return self._events(self.parser.close())

    def check(self) -> None:
        if self.fault is not None:
            raise self.fault
        if self.ended and not self.done:
            raise BayConnectionError(
                None, f"The event stream of {self.call.path} ended before its last event"
                + (f"; the execution {self.execution_id} goes on: read its record" if self.execution_id else ""),
                {}, execution_id=self.execution_id)

    def broken(self, exc: BaseException) -> BayConnectionError:
        """The error for a stream that broke (the execution goes on)."""
        return connection_error(self.call, exc, self.execution_id)

    def _events(self, raw: Iterable[Any]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for ev in raw:
            if self.done or self.fault is not None:
                break
            try:
                data = json.loads(ev.data) if ev.data else {}
            except ValueError:
                self.fault = BayConnectionError(None, f"Undecodable {ev.event!r} event: {ev.data[:200]!r}",
                                                {"event": ev.event}, execution_id=self.execution_id)
                break
            if not isinstance(data, dict):
                data = {}
            if ev.event == "fault":
                err = data.get("error") if isinstance(data.get("error"), dict) else {}
                self.fault = error_from_body(None, err, execution_id=data.get("execution_id") or self.execution_id)
                break
            cls = STREAM_EVENT_TYPES.get(ev.event)
            if cls is None:
                continue  # an event a newer Bay sends: not known here
            if ev.event == "start":
                self.execution_id = data.get("execution_id")
            if ev.event == "done":
                self.done = True
            out.append(cls.from_dict(data))
        return out


# -- filesystem -----------------------------------------------------------------


def read_file(sandbox_id: str, path: str) -> Call[str]:
    return Call("GET", _sb(sandbox_id) + "/filesystem/files", params={"path": path},
                parse=lambda a: a.json().get("content", ""))


def write_file(sandbox_id: str, path: str, content: str) -> Call[None]:
    if not isinstance(content, str):
        raise TypeError("write_file takes text; use upload() for bytes")
    return Call("PUT", _sb(sandbox_id) + "/filesystem/files", json={"path": path, "content": content},
                parse=parse_none)


def list_dir(sandbox_id: str, path: str) -> Call[list[FileInfo]]:
    return Call("GET", _sb(sandbox_id) + "/filesystem/directories", params={"path": path},
                parse=lambda a: [FileInfo.from_dict(e) for e in a.json().get("entries", [])])


def delete_file(sandbox_id: str, path: str) -> Call[None]:
    return Call("DELETE", _sb(sandbox_id) + "/filesystem/files", params={"path": path}, parse=parse_none)


def upload(sandbox_id: str, path: str, content: UploadSource) -> Call[UploadResult]:
    body = Multipart(path, content)
    return Call("POST", _sb(sandbox_id) + "/filesystem/upload", body=body,
                retry=RETRY_SAFE if body.rewindable else RETRY_NEVER, parse=_model(UploadResult))


def download(sandbox_id: str, path: str) -> Call[None]:
    c: Call[None] = Call("GET", _sb(sandbox_id) + "/filesystem/download", params={"path": path}, parse=parse_none)
    c.headers["Accept"] = "application/octet-stream"
    return c


class TempTarget:
    """``download_to``'s file: written under a temporary name beside the
    target, renamed over it only when complete."""

    def __init__(self, dest: str | os.PathLike[str]) -> None:
        self.dest = Path(dest)
        if self.dest.is_dir():
            raise IsADirectoryError(f"download_to wants a file path, {self.dest} is a directory")
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        # Not mkstemp: its 0600 would stay on the file; O_EXCL with 0666 honours the umask.
        for _ in range(100):
            self.tmp = self.dest.parent / f".{self.dest.name}.{secrets.token_hex(6)}.part"
            try:
                fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
                break
            except FileExistsError:
                continue
        else:
            raise FileExistsError(f"no free temporary name beside {self.dest}")
        self.file: IO[bytes] = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        self.file.write(chunk)

    def commit(self) -> Path:
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.replace(self.tmp, self.dest)
        except BaseException:
            self.abort()
            raise
        return self.dest

    def abort(self) -> None:
        try:
            self.file.close()
        finally:
            try:
                self.tmp.unlink()
            except FileNotFoundError:
                pass


# -- lockers ----------------------------------------------------------------------


def _lk(locker_id: str) -> str:
    return "/v1/lockers/" + seg(locker_id)


def create_locker(size_limit_mb: int | None, idempotency_key: str | None) -> Call[LockerInfo]:
    body: dict[str, Any] = {}
    if size_limit_mb is not None:
        body["size_limit_mb"] = size_limit_mb
    return Call("POST", "/v1/lockers", json=body, headers=_idem(idempotency_key), parse=_model(LockerInfo))


def get_locker(locker_id: str) -> Call[LockerInfo]:
    return Call("GET", _lk(locker_id), parse=_model(LockerInfo))


def list_lockers(limit: int | None, cursor: str | None, managed: bool | None) -> Call[LockerList]:
    return Call("GET", "/v1/lockers", params={"limit": limit, "cursor": cursor, "managed": managed},
                parse=_model(LockerList))


def delete_locker(locker_id: str) -> Call[None]:
    return Call("DELETE", _lk(locker_id), parse=parse_none)


def read_locker_file(locker_id: str, path: str) -> Call[str]:
    # A read: safe to repeat, though sent as POST.
    return Call("POST", _lk(locker_id) + "/files/read", json={"path": path},
                parse=lambda a: a.json().get("content", ""))


def write_locker_file(locker_id: str, path: str, content: str) -> Call[None]:
    if not isinstance(content, str):
        raise TypeError("write_file takes text")
    # Overwrites with the same content: safe to repeat.
    return Call("POST", _lk(locker_id) + "/files/write", json={"path": path, "content": content},
                parse=parse_none)


# -- anything else ------------------------------------------------------------------


def raw(method: str, path: str, params: Mapping[str, Any] | None, json_body: Any,
        headers: Mapping[str, str] | None, idempotency_key: str | None) -> Call[Any]:
    method = method.upper()
    if not path.startswith("/"):
        raise ValueError("path must start with /")
    h = dict(headers or {})
    if idempotency_key:
        h["Idempotency-Key"] = idempotency_key
    safe = method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS") or bool(idempotency_key)
    return Call(method, path, params=params, json=NO_BODY if json_body is None else json_body, headers=h,
                retry=RETRY_SAFE if safe else RETRY_CONNECT, parse=_json_or_bytes)


def _json_or_bytes(a: Answer) -> Any:
    if not a.content:
        return None
    try:
        return a.json()
    except ValueError:
        return a.content

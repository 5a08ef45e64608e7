"""The retry policy against a stdlib HTTP stub, through both clients."""

from __future__ import annotations

import asyncio
import io
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import bay_sdk
from bay_sdk import BayClient, SyncBayClient
from bay_sdk._core import backoff

from .conftest import Reply, Seen, Stub, envelope, free_port

SB = {"id": "sandbox-0af541514707", "status": "idle", "profile": "python-default",
      "locker_id": "locker-ff0be9ea2284", "capabilities": ["filesystem", "shell", "python"],
      "created_at": "2026-01-30T07:00:00.000000Z", "expires_at": None, "idle_expires_at": None,
      "stop_reason": None}
PY_OK = {"success": True, "output": "42", "error": None,
         "data": {"execution_count": 1, "output": {"text": "42", "images": []}, "kernel_restarted": False},
         "execution_id": "exec-5c0d2f3a9b1e", "execution_time_ms": 12}
EXEC = {"id": "exec-5c0d2f3a9b1e", "sandbox_id": SB["id"], "kind": "python", "mode": "async", "status": "running",
        "success": None, "exit_code": None, "execution_count": None, "kernel_restarted": False, "code": "1",
        "code_bytes": 1, "code_truncated": False, "cwd": None, "timeout": 30, "output": "", "output_bytes": 0,
        "output_truncated": False, "error": None, "error_truncated": False, "error_code": None, "image_count": 0,
        "images_truncated": False, "description": None, "tags": [], "notes": None,
        "created_at": "2026-01-30T07:00:00.123456Z", "finished_at": None, "execution_time_ms": None}
NOT_READY = envelope(503, "session_not_ready", "Runtime failed to become ready",
                     {"sandbox_id": SB["id"], "retry_after_ms": 1000}, {"Retry-After": "1"})
KEY = re.compile(r"^sdk-[0-9a-f]{32}$")


def sync_client(stub: Stub, **kw: Any) -> SyncBayClient:
    kw.setdefault("max_retries", 3)
    return SyncBayClient(stub.url, "tok", **kw)


def run_async(fn: Callable[[BayClient], Any], url: str, **kw: Any) -> Any:
    kw.setdefault("max_retries", 3)

    async def main() -> Any:
        async with BayClient(url, "tok", **kw) as c:
            return await fn(c)

    return asyncio.run(main())


def sandbox(c: SyncBayClient) -> bay_sdk.SyncSandbox:
    return bay_sdk.SyncSandbox(c._t, bay_sdk.SandboxInfo.from_dict(SB))


def async_sandbox(c: BayClient) -> bay_sdk.Sandbox:
    return bay_sdk.Sandbox(c._t, bay_sdk.SandboxInfo.from_dict(SB))


# -- backoff ------------------------------------------------------------------


def test_backoff_formula() -> None:
    for n, base in [(0, 0.2), (1, 0.4), (2, 0.8), (3, 1.6), (4, 2.0), (10, 2.0)]:
        for _ in range(50):
            d = backoff(n)
            assert base <= d <= base * 1.2 + 1e-9


# -- exec: only 503 session_not_ready and connection refused ---------------------


def test_sync_exec_not_retried_on_502(stub: Stub) -> None:
    stub.add(envelope(502, "ship_error", "Ship request failed: 500", {"execution_id": "exec-0123456789ab"}))
    with sync_client(stub) as c, pytest.raises(bay_sdk.ShipError) as ei:
        sandbox(c).python.exec("1")
    assert len(stub.requests) == 1
    assert ei.value.execution_id == "exec-0123456789ab"


def test_async_exec_not_retried_on_502_or_500_or_504(stub: Stub) -> None:
    stub.add(envelope(502, "ship_error"), envelope(500, "internal_error"), envelope(504, "timeout"))

    async def go(c: BayClient) -> list[str]:
        sb = async_sandbox(c)
        out = []
        for _ in range(3):
            try:
                await sb.shell.exec("true")
            except bay_sdk.BayError as e:
                out.append(type(e).__name__)
        return out

    assert run_async(go, stub.url) == ["ShipError", "InternalError", "RequestTimeoutError"]
    assert len(stub.requests) == 3


def test_exec_retried_on_503_with_retry_after(stub: Stub) -> None:
    stub.add(NOT_READY, Reply(200, PY_OK))
    began = time.monotonic()
    with sync_client(stub) as c:
        r = sandbox(c).python.exec("print(42)")
    assert r.output == "42" and r.execution_id == "exec-5c0d2f3a9b1e"
    assert len(stub.requests) == 2
    gap = stub.requests[1].at - stub.requests[0].at
    assert gap >= 0.95, f"Retry-After: 1 not honoured ({gap:.2f}s)"
    assert time.monotonic() - began < 5
    assert stub.requests[0].body == stub.requests[1].body


def test_exec_not_retried_on_other_503_or_429(stub: Stub) -> None:
    stub.add(envelope(503, "ship_error", headers={"Retry-After": "0"}), envelope(429, "quota_exceeded"))
    with sync_client(stub) as c:
        with pytest.raises(bay_sdk.ShipError):
            sandbox(c).python.exec("1")
        with pytest.raises(bay_sdk.QuotaExceededError):
            sandbox(c).python.exec("1")
    assert len(stub.requests) == 2


def test_async_exec_retried_on_503_details_retry_after_ms(stub: Stub) -> None:
    stub.add(envelope(503, "session_not_ready", details={"retry_after_ms": 300}), Reply(200, PY_OK))

    async def go(c: BayClient) -> str:
        return (await async_sandbox(c).python.exec("1")).output

    assert run_async(go, stub.url) == "42"
    assert len(stub.requests) == 2
    assert stub.requests[1].at - stub.requests[0].at >= 0.28


def test_retries_stop_after_max_retries(stub: Stub) -> None:
    stub.default = envelope(503, "session_not_ready", headers={"Retry-After": "0"})
    with sync_client(stub, max_retries=2) as c, pytest.raises(bay_sdk.SessionNotReadyError) as ei:
        sandbox(c).python.exec("1")
    assert len(stub.requests) == 3
    assert ei.value.retry_after == 0.0
    stub.requests.clear()
    with sync_client(stub, max_retries=0) as c, pytest.raises(bay_sdk.SessionNotReadyError):
        c.get_sandbox(SB["id"])
    assert len(stub.requests) == 1


# -- safe calls -------------------------------------------------------------------


def test_get_retried_on_429_503_504_never_500_502(stub: Stub) -> None:
    stub.add(envelope(429, "quota_exceeded", headers={"Retry-After": "0"}),
             envelope(503, "session_not_ready", headers={"Retry-After": "0"}),
             envelope(504, "timeout"), Reply(200, SB))
    with sync_client(stub) as c:
        assert c.get_sandbox(SB["id"]).id == SB["id"]
    assert len(stub.requests) == 4
    for code, status in (("internal_error", 500), ("ship_error", 502)):
        stub.requests.clear()
        stub.add(envelope(status, code), Reply(200, SB))
        with sync_client(stub) as c, pytest.raises(bay_sdk.BayError) as ei:
            c.get_sandbox(SB["id"])
        assert ei.value.code == code and len(stub.requests) == 1
        stub._script.clear()


def test_504_retried_on_get_only(stub: Stub) -> None:
    stub.add(envelope(504, "timeout"))
    with sync_client(stub) as c, pytest.raises(bay_sdk.RequestTimeoutError):
        c.create_sandbox()
    assert len(stub.requests) == 1


def test_create_retries_reuse_one_idempotency_key(stub: Stub) -> None:
    stub.add(envelope(503, "session_not_ready", headers={"Retry-After": "0"}),
             envelope(429, "quota_exceeded", headers={"Retry-After": "0"}), Reply(drop=True), Reply(201, SB))
    with sync_client(stub) as c:
        sb = c.create_sandbox(profile="python-default", ttl=600)
    assert sb.id == SB["id"]
    keys = [r.header("Idempotency-Key") for r in stub.requests]
    assert len(keys) == 4
    assert KEY.match(keys[0] or ""), keys
    assert len(set(keys)) == 1
    assert all(r.json() == {"profile": "python-default", "ttl": 600} for r in stub.requests)
    # The next logical create gets a new key.
    stub.requests.clear()
    stub.add(Reply(201, SB))
    with sync_client(stub) as c:
        c.create_sandbox()
    assert stub.requests[0].header("Idempotency-Key") not in (None, keys[0])
    assert stub.requests[0].json() == {}


def test_given_idempotency_key_is_sent_on_every_attempt(stub: Stub) -> None:
    stub.add(envelope(503, "session_not_ready", headers={"Retry-After": "0"}), Reply(200, SB),
             envelope(503, "session_not_ready", headers={"Retry-After": "0"}),
             Reply(201, {"id": "locker-abc123def456", "managed": False, "managed_by_sandbox_id": None,
                         "backend": "docker_volume", "size_limit_mb": 64, "created_at": SB["created_at"],
                         "last_accessed_at": SB["created_at"]}))
    with sync_client(stub) as c:
        sandbox(c).extend_ttl(60, idempotency_key="mine-1")
        lk = c.lockers.create(64, idempotency_key="mine-2")
    assert lk.size_limit_mb == 64
    assert [r.header("Idempotency-Key") for r in stub.requests] == ["mine-1", "mine-1", "mine-2", "mine-2"]
    assert stub.requests[0].json() == {"extend_by": 60}


def test_async_submit_and_extend_reuse_their_key(stub: Stub) -> None:
    stub.add(envelope(503, "session_not_ready", headers={"Retry-After": "0"}), Reply(drop=True),
             Reply(202, EXEC), envelope(503, "x", headers={"Retry-After": "0"}), Reply(200, SB))

    async def go(c: BayClient) -> str:
        sb = async_sandbox(c)
        job = await sb.python.submit("import time; time.sleep(5)", timeout=600, tags=["a", "b"])
        await sb.extend_ttl(30)
        return job.id

    assert run_async(go, stub.url) == EXEC["id"]
    keys = [r.header("Idempotency-Key") for r in stub.requests]
    assert keys[0] == keys[1] == keys[2] and KEY.match(keys[0] or "")
    assert keys[3] == keys[4] and keys[3] != keys[0]
    assert stub.requests[0].path == f"/v1/sandboxes/{SB['id']}/python/exec/async"
    assert stub.requests[0].json() == {"code": "import time; time.sleep(5)", "timeout": 600, "tags": ["a", "b"]}


def test_exec_not_retried_after_a_reset(stub: Stub) -> None:
    stub.add(Reply(drop=True), Reply(200, PY_OK))
    with sync_client(stub) as c, pytest.raises(bay_sdk.BayConnectionError):
        sandbox(c).python.exec("1")
    assert len(stub.requests) == 1


def test_get_retried_after_a_reset(stub: Stub) -> None:
    stub.add(Reply(drop=True), Reply(200, SB))
    with sync_client(stub) as c:
        assert c.get_sandbox(SB["id"]).id == SB["id"]
    assert len(stub.requests) == 2


def test_delete_404_after_an_unanswered_attempt_is_success(stub: Stub) -> None:
    stub.add(Reply(drop=True), envelope(404, "not_found", f"Sandbox not found: {SB['id']}"))
    with sync_client(stub) as c:
        sandbox(c).delete()  # no error
    assert [r.method for r in stub.requests] == ["DELETE", "DELETE"]
    stub.requests.clear()
    stub.add(Reply(drop=True), envelope(404, "not_found"))

    async def go(c: BayClient) -> None:
        await c.lockers.delete("locker-abc123def456")

    run_async(go, stub.url)
    assert len(stub.requests) == 2
    # A plain 404 stays an error.
    stub.add(envelope(404, "not_found"))
    with sync_client(stub) as c, pytest.raises(bay_sdk.NotFoundError):
        sandbox(c).delete()


def test_connection_refused_is_retried_even_for_exec() -> None:
    port = free_port()
    holder: dict[str, Stub] = {}

    def late_server() -> None:
        time.sleep(0.5)  # the client meets a refused connection first
        holder["stub"] = Stub(port)
        holder["stub"].add(Reply(200, PY_OK))

    t = threading.Thread(target=late_server)
    t.start()
    try:
        with SyncBayClient(f"http://127.0.0.1:{port}", "tok", max_retries=5) as c:
            r = bay_sdk.SyncSandbox(c._t, bay_sdk.SandboxInfo.from_dict(SB)).python.exec("1")
        assert r.output == "42"
        assert len(holder["stub"].requests) == 1
    finally:
        t.join()
        if "stub" in holder:
            holder["stub"].close()


def test_connection_refused_gives_up_with_bay_connection_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    began = time.monotonic()
    with SyncBayClient(url, "tok", max_retries=2) as c, pytest.raises(bay_sdk.BayConnectionError) as ei:
        c.list_sandboxes()
    # Two backoffs: 0.2 s and 0.4 s, each plus up to 20 %.
    assert 0.55 <= time.monotonic() - began < 3
    assert ei.value.status_code is None and ei.value.code == "connection_error"

    async def go(c: BayClient) -> None:
        await c.list_sandboxes()

    with pytest.raises(bay_sdk.BayConnectionError):
        run_async(go, url, max_retries=0)


# -- uploads ------------------------------------------------------------------------


class OneWay(io.RawIOBase):
    """A readable stream that cannot seek (a pipe)."""

    def __init__(self, data: bytes) -> None:
        self._b = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        chunk = self._b.read(len(buf))
        buf[:len(chunk)] = chunk
        return len(chunk)


UPLOADED = {"status": "ok", "path": "d/f.bin", "size": 3}


def multipart_parts(r: Seen) -> list[tuple[str, bytes]]:
    ctype = r.header("Content-Type") or ""
    boundary = ctype.split("boundary=")[1].encode()
    parts = []
    for chunk in r.body.split(b"--" + boundary)[1:-1]:
        head, _, body = chunk[2:].partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]+)"', head)
        assert name
        parts.append((name.group(1).decode(), body[:-2]))
    return parts


@pytest.mark.parametrize("kind", ["bytes", "path", "seekable"])
def test_upload_retried_from_rewindable_sources(stub: Stub, tmp_path: Any, kind: str) -> None:
    data = bytes(range(256)) * 1000
    src: Any = data
    if kind == "path":
        p = tmp_path / "src.bin"
        p.write_bytes(data)
        src = str(p)
    elif kind == "seekable":
        src = io.BytesIO(b"ignored prefix" + data)
        src.seek(len(b"ignored prefix"))
    stub.add(envelope(503, "session_not_ready", headers={"Retry-After": "0"}), Reply(200, UPLOADED))
    with sync_client(stub) as c:
        res = sandbox(c).filesystem.upload("d/f.bin", src)
    assert res.path == "d/f.bin"
    assert len(stub.requests) == 2
    for r in stub.requests:
        assert r.header("Content-Type", ).startswith("multipart/form-data; boundary=")  # type: ignore[union-attr]
        assert r.header("Content-Length") == str(len(r.body))
        assert multipart_parts(r) == [("path", b"d/f.bin"), ("file", data)]  # path first


def test_upload_not_retried_from_a_stream_that_cannot_seek(stub: Stub) -> None:
    stub.add(envelope(503, "session_not_ready", headers={"Retry-After": "0"}), Reply(200, UPLOADED))
    with sync_client(stub) as c, pytest.raises(bay_sdk.SessionNotReadyError):
        sandbox(c).filesystem.upload("f.bin", io.BufferedReader(OneWay(b"abc")))
    assert len(stub.requests) == 1
    assert stub.requests[0].header("Transfer-Encoding") == "chunked"
    assert multipart_parts(stub.requests[0]) == [("path", b"f.bin"), ("file", b"abc")]


def test_async_upload_and_download(stub: Stub, tmp_path: Any) -> None:
    data = b"\x00\xff" * 70000
    stub.add(envelope(503, "session_not_ready", headers={"Retry-After": "0"}), Reply(200, UPLOADED),
             envelope(503, "session_not_ready", headers={"Retry-After": "0"}),
             Reply(200, data, {"Content-Type": "application/octet-stream"}),
             Reply(200, data, {"Content-Type": "application/octet-stream"}),
             envelope(404, "file_not_found", "File not found: nope"))
    dest = tmp_path / "sub" / "out.bin"

    async def go(c: BayClient) -> bytes:
        fs = async_sandbox(c).filesystem
        await fs.upload("f.bin", io.BytesIO(data))
        got = await fs.download("f.bin")
        await fs.download_to("f.bin", dest)
        with pytest.raises(bay_sdk.LockerFileNotFoundError):
            await fs.download_to("nope", tmp_path / "never.bin")
        return got

    assert run_async(go, stub.url) == data
    assert dest.read_bytes() == data
    umask = os.umask(0o22)
    os.umask(umask)
    assert dest.stat().st_mode & 0o777 == 0o666 & ~umask  # not a temp file's 0600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]  # no temp file, no never.bin
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["out.bin"]
    assert multipart_parts(stub.requests[1]) == [("path", b"f.bin"), ("file", data)]
    assert stub.requests[2].query == "path=f.bin"


# -- streams -------------------------------------------------------------------------

START = (b'event: start\ndata: {"execution_id":"exec-aaaaaaaaaaaa","sandbox_id":"sandbox-0af541514707",'
         b'"kind":"python","timeout":30,"created_at":"2026-01-30T07:00:00.123456Z"}\n\n')
DONE = (b'event: done\ndata: {"execution_id":"exec-aaaaaaaaaaaa","status":"finished","success":true,'
        b'"exit_code":null,"execution_count":1,"kernel_restarted":false,"timed_out":false,'
        b'"execution_time_ms":5,"output_truncated":false}\n\n')
SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store"}


def test_stream_events_typed_in_order(stub: Stub) -> None:
    body = (START + b": keepalive\n\n" + b'event: stdout\ndata: {"text":"0\\n"}\n\n'
            + b'event: display_data\ndata: {"data":{"text/plain":"x","image/png":"iVBO"}}\n\n'
            + b'event: something_new\ndata: {}\n\n'
            + b'event: result\ndata: {"execution_count":1,"data":{"text/plain":"42"}}\n\n'
            + b'event: error\ndata: {"ename":"ZeroDivisionError","evalue":"division by zero","traceback":["t"]}\n\n'
            + b'event: stderr\ndata: {"text":"w"}\n\n' + DONE + b"event: stdout\ndata: {\"text\":\"after\"}\n\n")
    # Cut into awkward pieces, a little apart.
    stub.add(Reply(200, headers=SSE_HEADERS, chunks=[body[i:i + 7] for i in range(0, len(body), 7)]))
    with sync_client(stub) as c:
        evs = list(sandbox(c).python.stream("print(0)", timeout=3600, tags="a,b"))
    assert [type(e).__name__ for e in evs] == ["StartEvent", "StdoutEvent", "DisplayDataEvent", "ResultEvent",
                                               "ErrorEvent", "StderrEvent", "DoneEvent"]
    assert evs[0].execution_id == evs[-1].execution_id == "exec-aaaaaaaaaaaa"
    assert evs[0].created_at is not None and evs[0].created_at.tzinfo is not None
    assert evs[1].text == "0\n" and evs[3].data == {"text/plain": "42"} and evs[4].ename == "ZeroDivisionError"
    assert evs[-1].success is True and evs[-1].status == "finished"
    r = stub.requests[0]
    assert r.path.endswith("/python/exec/stream")
    assert r.json() == {"code": "print(0)", "timeout": 3600, "tags": "a,b"}
    assert r.header("Accept") == "text/event-stream"


def test_async_stream_fault_raises_with_execution_id(stub: Stub) -> None:
    fault = (b'event: fault\ndata: {"execution_id":"exec-aaaaaaaaaaaa","error":{"code":"ship_error",'
             b'"message":"Ship broke the stream","details":{},"request_id":"rq-1"}}\n\n')
    stub.add(Reply(200, headers=SSE_HEADERS, chunks=[START, b'event: stdout\ndata: {"text":"a"}\n\n', fault]))

    async def go(c: BayClient) -> list[str]:
        seen = []
        with pytest.raises(bay_sdk.ShipError) as ei:
            async for ev in async_sandbox(c).shell.stream("echo a", cwd="sub"):
                seen.append(type(ev).__name__)
        assert ei.value.execution_id == "exec-aaaaaaaaaaaa" and ei.value.request_id == "rq-1"
        return seen

    assert run_async(go, stub.url) == ["StartEvent", "StdoutEvent"]
    assert stub.requests[0].json() == {"command": "echo a", "timeout": 30, "cwd": "sub"}


def test_stream_cut_short_names_the_execution(stub: Stub) -> None:
    stub.add(Reply(200, headers=SSE_HEADERS, chunks=[START, b'event: stdout\ndata: {"text":"a"}\n\n']))
    with sync_client(stub) as c, pytest.raises(bay_sdk.BayConnectionError) as ei:
        for _ in sandbox(c).shell.stream("sleep 100"):
            pass
    assert ei.value.execution_id == "exec-aaaaaaaaaaaa"


def test_stream_exec_retry_rules(stub: Stub) -> None:
    stub.add(envelope(502, "ship_error"))
    with sync_client(stub) as c, pytest.raises(bay_sdk.ShipError):
        list(sandbox(c).python.stream("1"))
    assert len(stub.requests) == 1
    stub.requests.clear()
    stub.add(envelope(503, "session_not_ready", headers={"Retry-After": "0"}),
             Reply(200, headers=SSE_HEADERS, chunks=[START, DONE]))
    with sync_client(stub) as c:
        assert len(list(sandbox(c).python.stream("1"))) == 2
    assert len(stub.requests) == 2


def test_stream_read_timeout_setting() -> None:
    # A stream's read time-out (the silence it tolerates) is max(60, 4 × heartbeat).
    with SyncBayClient("http://127.0.0.1:1", stream_heartbeat=0.1) as c:
        assert c.settings.stream_read_timeout == 60
    with SyncBayClient("http://127.0.0.1:1", stream_heartbeat=30) as c:
        assert c.settings.stream_read_timeout == 120


# -- polling -----------------------------------------------------------------------------


def test_wait_polls_with_wait_at_most_60(stub: Stub) -> None:
    done = dict(EXEC, status="finished", success=True, output="ok", finished_at="2026-01-30T07:00:01Z",
                execution_time_ms=1000)
    stub.add(Reply(202, EXEC), Reply(200, EXEC), Reply(200, EXEC), Reply(200, done))
    with sync_client(stub) as c:
        job = sandbox(c).shell.submit("sleep 1", timeout=100)
        assert isinstance(job, bay_sdk.SyncExecution) and not job.done
        rec = job.wait()
    assert rec.status == bay_sdk.ExecutionStatus.FINISHED and rec.output == "ok" and job.done
    assert [r.query for r in stub.requests[1:]] == ["wait=60"] * 3
    assert rec.finished_at is not None and rec.finished_at.tzinfo is not None


def test_wait_with_a_deadline_returns_the_running_record(stub: Stub) -> None:
    def hold(r: Seen) -> Reply:
        time.sleep(0.3)
        return Reply(200, EXEC)

    stub.default = hold

    async def go(c: BayClient) -> Any:
        job = bay_sdk.Execution(c._t, bay_sdk.ExecutionHistoryEntry.from_dict(EXEC))
        began = time.monotonic()
        rec = await job.wait(timeout=1.5)
        return rec, time.monotonic() - began

    rec, took = run_async(go, stub.url)
    assert rec.status == "running"
    assert took < 4
    assert stub.requests[0].query == "wait=2"


def test_cancel_is_not_retried_on_503(stub: Stub) -> None:
    stub.add(envelope(503, "session_not_ready", headers={"Retry-After": "0"}))
    with sync_client(stub) as c:
        job = bay_sdk.SyncExecution(c._t, bay_sdk.ExecutionHistoryEntry.from_dict(EXEC))
        with pytest.raises(bay_sdk.SessionNotReadyError):
            job.cancel()
    assert len(stub.requests) == 1
    assert stub.requests[0].path == f"/v1/sandboxes/{SB['id']}/executions/{EXEC['id']}/cancel"


def test_socket_cleanup_helper_is_sane() -> None:
    # free_port gives a port nobody listens on.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", free_port()), timeout=1).close()

"""Against a real Bay: skipped unless BAY_URL is set (BAY_API_KEY: its key).

Optional, set by test/sdk_python_test.go: BAY_TEST_SCOPED_KEY (a key
without the sandboxes scope), BAY_TEST_QUOTA_KEY (an owner allowed one
locker), BAY_TEST_MAX_BODY_BYTES (the server's JSON body limit, small).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import bay_sdk
from bay_sdk import BayClient, SyncBayClient

EXEC_ID = re.compile(r"^exec-[0-9a-f]{12}$")


@pytest.fixture
def client(live: dict[str, str]) -> Iterator[SyncBayClient]:
    with SyncBayClient(live["url"], live["key"] or None) as c:
        yield c


@pytest.fixture
def new_sandbox(client: SyncBayClient) -> Iterator[Callable[..., bay_sdk.SyncSandbox]]:
    """Creates sandboxes and deletes them after the test."""
    made: list[bay_sdk.SyncSandbox] = []

    def make(**kw: Any) -> bay_sdk.SyncSandbox:
        kw.setdefault("ttl", 900)
        sb = client.create_sandbox(**kw)
        made.append(sb)
        return sb

    yield make
    for sb in made:
        try:
            sb.delete()
        except bay_sdk.NotFoundError:
            pass


def profiles(client: SyncBayClient) -> set[str]:
    return {p.id for p in client.list_profiles().items}


def arun(coro: Any) -> Any:
    return asyncio.run(coro)


# -- flows ----------------------------------------------------------------------


def test_sync_flow(client: SyncBayClient, new_sandbox: Callable[..., bay_sdk.SyncSandbox]) -> None:
    assert "python-default" in profiles(client)
    sb = new_sandbox(profile="python-default", ttl=600)
    assert isinstance(sb, bay_sdk.SyncSandbox) and sb.status == "idle"
    assert sb.locker_id and sb.locker_id.startswith("locker-")
    assert sb.expires_at is not None and sb.expires_at.tzinfo is not None
    assert timedelta(seconds=590) < sb.expires_at - sb.created_at <= timedelta(seconds=601)  # type: ignore[operator]
    assert client.get_sandbox(sb.id).id == sb.id

    r = sb.python.exec("x = 6 * 7\nprint(x)", include_code=True, description="answer", tags=["demo"])
    assert r.success and r.output == "42" and r.error is None
    assert EXEC_ID.match(r.execution_id or "") and (r.execution_time_ms or 0) >= 0
    assert r.code == "x = 6 * 7\nprint(x)" and r.execution_count == 1
    assert sb.python.exec("print(x + 1)").output == "43"  # state persists
    bad = sb.python.exec("1/0")
    assert not bad.success and "ZeroDivisionError" in (bad.error or "")

    sh = sb.shell.exec("mkdir -p sub && cd sub && pwd", include_code=True)
    assert sh.success and sh.output == "/workspace/sub" and sh.exit_code == 0 and sh.command.startswith("mkdir")
    assert sb.shell.exec("pwd", cwd="sub").output == "/workspace/sub"
    fail = sb.shell.exec("echo oops >&2; exit 42")
    assert not fail.success and fail.exit_code == 42 and "oops" in (fail.error or "")

    fs = sb.filesystem
    fs.write_file("notes/a.txt", "héllo\n")
    assert fs.read_file("notes/a.txt") == "héllo\n"
    entries = fs.list_dir("notes")
    assert [(e.name, e.is_file, e.size) for e in entries] == [("a.txt", True, len("héllo\n".encode()))]
    assert entries[0].path == "/workspace/notes/a.txt" and entries[0].modified_at is not None
    assert {e.name for e in fs.list_dir()} >= {"notes", "sub"}
    fs.delete("notes")
    assert "notes" not in {e.name for e in fs.list_dir()}

    info = sb.refresh()
    assert info.status == "ready"
    sb.keepalive()
    assert sb.refresh().idle_expires_at is not None
    before = sb.expires_at
    sb.extend_ttl(120)
    assert sb.expires_at is not None and before is not None and sb.expires_at >= before + timedelta(seconds=119)

    sb.stop()
    sb.stop()  # idempotent
    info = sb.refresh()
    assert info.status == "idle" and info.stop_reason == "user"
    assert sb.shell.exec("ls sub && echo kept").output.endswith("kept")  # files persist
    assert "NameError" in (sb.python.exec("print(x)").error or "")  # Python state did not

    ids = set()
    cursor = None
    while True:
        page = client.list_sandboxes(limit=1, cursor=cursor)
        ids |= {s.id for s in page.items}
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert sb.id in ids
    assert sb.id in {s.id for s in client.iter_sandboxes(page_size=1)}
    sb.delete()
    with pytest.raises(bay_sdk.NotFoundError):
        client.get_sandbox(sb.id)


def test_async_flow(live: dict[str, str]) -> None:
    async def main() -> None:
        async with BayClient(live["url"], live["key"] or None) as c:
            sb = await c.create_sandbox(ttl=600)
            try:
                assert isinstance(sb, bay_sdk.Sandbox)
                r = await sb.python.exec("import sys; print(sys.version_info[0])", tags="async,demo")
                assert r.output == "3"
                sh = await sb.shell.exec("echo hi")
                assert sh.output == "hi"
                await sb.filesystem.write_file("a.txt", "x")
                assert await sb.filesystem.read_file("a.txt") == "x"
                assert [e.name for e in await sb.filesystem.list_dir(".")] == ["a.txt"]

                names = [type(ev).__name__ async for ev in sb.python.stream("print('s')")]
                assert names == ["StartEvent", "StdoutEvent", "DoneEvent"]

                job = await sb.shell.submit("sleep 1; echo done", timeout=60, tags=["job"])
                assert isinstance(job, bay_sdk.Execution) and EXEC_ID.match(job.id)
                assert job.record.mode == "async" and job.status == "running"
                rec = await job.wait(30)
                assert rec.status == "finished" and rec.output == "done\n" and rec.success

                hist = await sb.get_execution_history(tags="async")
                assert [e.id for e in hist.entries] == [r.execution_id]
                last = await sb.get_last_execution(kind="shell")
                assert last.id == job.id
                got = await sb.get_execution(r.execution_id or "")
                assert got.tags == ["async", "demo"] and got.kind == "python" and got.mode == "sync"
                ann = await sb.annotate_execution(got.id, notes="kept")
                assert ann.notes == "kept" and ann.tags == ["async", "demo"]
                assert sb.id in [s.id async for s in c.iter_sandboxes()]
                caps = await sb.capabilities_info()
                assert "python" in caps.effective
                await sb.stop()
                info = await sb.refresh()
                assert info.status == "idle"
            finally:
                await sb.delete()
            with pytest.raises(bay_sdk.NotFoundError):
                await c.get_sandbox(sb.id)

    arun(main())


def test_stream_events(new_sandbox: Callable[..., bay_sdk.SyncSandbox]) -> None:
    sb = new_sandbox()
    code = ("import time\nfor i in range(3):\n    print(i, flush=True); time.sleep(0.5)\n"
            "from IPython.display import display, HTML\ndisplay(HTML('<b>hi</b>'))\n6 * 7")
    evs = []
    times = []
    for ev in sb.python.stream(code, timeout=120, description="streamed", tags=["stream"]):
        evs.append(ev)
        times.append(time.monotonic())
    names = [type(e).__name__ for e in evs]
    assert names[0] == "StartEvent" and names[-1] == "DoneEvent", names
    start, done = evs[0], evs[-1]
    assert isinstance(start, bay_sdk.StartEvent) and isinstance(done, bay_sdk.DoneEvent)
    assert EXEC_ID.match(start.execution_id) and start.execution_id == done.execution_id
    assert start.kind == "python" and start.timeout == 120 and start.sandbox_id == sb.id
    assert done.status == "finished" and done.success is True and done.timed_out is False
    outs = [e for e in evs if isinstance(e, bay_sdk.StdoutEvent)]
    assert "".join(o.text for o in outs) == "0\n1\n2\n"
    i0 = evs.index(outs[0])
    assert times[evs.index(outs[-1])] - times[i0] > 0.7, "output came at the end, not as printed"
    disp = [e for e in evs if isinstance(e, bay_sdk.DisplayDataEvent)]
    assert disp and disp[0].data.get("text/html") == "<b>hi</b>"
    res = [e for e in evs if isinstance(e, bay_sdk.ResultEvent)]
    assert res and res[0].data.get("text/plain") == "42"

    evs = list(sb.python.stream("raise ValueError('nope')"))
    err = [e for e in evs if isinstance(e, bay_sdk.ErrorEvent)]
    assert err and err[0].ename == "ValueError" and err[0].evalue == "nope" and err[0].traceback
    assert evs[-1].success is False  # type: ignore[union-attr]

    evs = list(sb.shell.stream("echo out; echo err >&2; exit 3", cwd="."))
    assert "".join(e.text for e in evs if isinstance(e, bay_sdk.StdoutEvent)) == "out\n"
    assert "".join(e.text for e in evs if isinstance(e, bay_sdk.StderrEvent)) == "err\n"
    assert isinstance(evs[-1], bay_sdk.DoneEvent) and evs[-1].exit_code == 3 and evs[-1].success is False

    rec = sb.get_execution(start.execution_id)
    assert rec.mode == "stream" and rec.output.startswith("0\n1\n2") and rec.description == "streamed"

    # Leaving a stream early does not stop the execution.
    stream = sb.shell.stream("sleep 2; echo late")
    first = next(stream)
    stream.close()
    assert isinstance(first, bay_sdk.StartEvent)
    late = sb.get_execution(first.execution_id, wait=30)
    assert late.status == "finished" and late.output == "late\n"


def test_history_filters_and_paging(new_sandbox: Callable[..., bay_sdk.SyncSandbox]) -> None:
    sb = new_sandbox()
    a = sb.python.exec("print('a')", tags="demo,x", description="first")
    b = sb.python.exec("1/0", tags=["testing"])
    c = sb.shell.exec("echo c", tags=["demo"])
    d = sb.shell.exec("false")
    ids = [a.execution_id, b.execution_id, c.execution_id, d.execution_id]

    def hist(**kw: Any) -> list[str | None]:
        return [e.id for e in sb.get_execution_history(**kw).entries]

    assert hist() == ids[::-1]  # newest first
    assert hist(order="asc") == ids
    assert hist(kind="python") == [b.execution_id, a.execution_id]
    assert hist(exec_type="shell") == [d.execution_id, c.execution_id]
    assert hist(tags="demo") == [c.execution_id, a.execution_id]
    assert hist(tags=["demo", "x"]) == [a.execution_id]
    assert hist(tags="test") == []  # exact: "test" does not match "testing"
    assert hist(success_only=True) == [c.execution_id, a.execution_id]
    assert hist(success=False, kind="shell") == [d.execution_id]
    assert hist(has_description=True) == [a.execution_id]
    assert hist(status="finished", limit=2) == [d.execution_id, c.execution_id]
    assert hist(since=datetime.now(timezone.utc) + timedelta(hours=1)) == []

    for order in ("desc", "asc"):
        seen: list[str] = []
        cursor = None
        while True:
            page = sb.get_execution_history(limit=2, order=order, cursor=cursor)
            assert len(page.entries) <= 2 and page.items == page.entries
            seen += [e.id for e in page.entries]
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        assert seen == (ids[::-1] if order == "desc" else ids)

    entry = sb.get_execution(a.execution_id or "")
    assert entry.output == "a" and entry.tags == ["demo", "x"] and entry.exec_type == "python"
    assert entry.created_at is not None and entry.finished_at is not None and entry.finished_at >= entry.created_at
    assert sb.get_last_execution().id == d.execution_id
    assert sb.get_last_execution(kind="python").id == b.execution_id

    e = sb.annotate_execution(a.execution_id or "", notes="keep", tags=None)
    assert e.notes == "keep" and e.tags == [] and e.description == "first"  # set, cleared, kept
    e = sb.annotate_execution(a.execution_id or "", tags="etl, stable", description=None)
    assert e.tags == ["etl", "stable"] and e.description is None and e.notes == "keep"
    assert hist(has_notes=True) == [a.execution_id]
    with pytest.raises(bay_sdk.NotFoundError):
        sb.get_execution("exec-000000000000")
    empty = new_sandbox()
    with pytest.raises(bay_sdk.NotFoundError):
        empty.get_last_execution()


def test_binary_round_trip_1mib(live: dict[str, str], new_sandbox: Callable[..., bay_sdk.SyncSandbox],
                                tmp_path: Any) -> None:
    sb = new_sandbox()
    data = os.urandom(1 << 20) + bytes(range(256))
    digest = hashlib.sha256(data).hexdigest()
    up = sb.filesystem.upload("bin/blob.bin", data)
    assert up.status == "ok" and up.path == "bin/blob.bin" and up.size == len(data)
    assert sb.filesystem.download("bin/blob.bin") == data
    assert sb.shell.exec("sha256sum bin/blob.bin").output.split()[0] == digest

    src = tmp_path / "local.bin"
    src.write_bytes(data)
    assert sb.filesystem.upload("bin/from_path.bin", str(src)).size == len(data)
    with open(src, "rb") as f:
        assert sb.filesystem.upload("bin/from_file.bin", f).size == len(data)
    assert sb.filesystem.upload("bin/from_bytesio.bin", io.BytesIO(data)).size == len(data)
    for name in ("from_path", "from_file", "from_bytesio"):
        dest = tmp_path / "out" / f"{name}.bin"
        assert sb.filesystem.download_to(f"bin/{name}.bin", dest) == dest
        assert hashlib.sha256(dest.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["from_bytesio.bin", "from_file.bin",
                                                                    "from_path.bin"]

    async def main() -> bytes:
        async with BayClient(live["url"], live["key"] or None) as c:
            asb = await c.get_sandbox(sb.id)
            await asb.filesystem.upload("bin/async.bin", data)
            await asb.filesystem.download_to("bin/async.bin", tmp_path / "async.bin")
            return await asb.filesystem.download("bin/async.bin")

    assert arun(main()) == data
    assert (tmp_path / "async.bin").read_bytes() == data


def test_lockers(client: SyncBayClient, new_sandbox: Callable[..., bay_sdk.SyncSandbox]) -> None:
    key = "sdk-live-" + os.urandom(6).hex()
    lk = client.lockers.create(64, idempotency_key=key)
    try:
        assert isinstance(lk, bay_sdk.LockerInfo) and lk.id.startswith("locker-")
        assert lk.managed is False and lk.size_limit_mb == 64 and lk.backend == "docker_volume"
        assert client.lockers.create(64, idempotency_key=key).id == lk.id  # replayed
        assert client.lockers.get(lk.id).id == lk.id
        listed: set[str] = set()
        cursor = None
        while True:
            page = client.lockers.list(limit=50, cursor=cursor)
            listed |= {x.id for x in page.items}
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        assert lk.id in listed

        client.lockers.write_file(lk.id, "cfg/app.txt", "persist me")
        assert client.lockers.read_file(lk.id, "cfg/app.txt") == "persist me"
        with pytest.raises(bay_sdk.LockerFileNotFoundError):
            client.lockers.read_file(lk.id, "cfg/missing.txt")

        sb = new_sandbox(locker_id=lk.id)
        assert sb.locker_id == lk.id
        assert sb.filesystem.read_file("cfg/app.txt") == "persist me"
        sb.filesystem.write_file("from_sandbox.txt", "hello")
        with pytest.raises(bay_sdk.ConflictError) as ei:
            client.lockers.delete(lk.id)
        assert sb.id in ei.value.details.get("active_sandbox_ids", [])
        sb.delete()
        assert client.lockers.read_file(lk.id, "from_sandbox.txt") == "hello"  # outlived its sandbox
        managed = client.lockers.list(managed=True)
        assert all(x.managed for x in managed.items)
    finally:
        client.lockers.delete(lk.id)
    with pytest.raises(bay_sdk.NotFoundError):
        client.lockers.get(lk.id)


def test_submit_cancel_and_kernel_busy(new_sandbox: Callable[..., bay_sdk.SyncSandbox]) -> None:
    sb = new_sandbox()
    sb.python.exec("survivor = 41")
    key = "sdk-job-" + os.urandom(6).hex()
    job = sb.python.submit("import time; time.sleep(60)", timeout=600, idempotency_key=key)
    assert isinstance(job, bay_sdk.SyncExecution) and job.status == "running" and not job.done
    again = sb.python.submit("import time; time.sleep(60)", timeout=600, idempotency_key=key)
    assert again.id == job.id  # replayed: nothing else runs
    assert [e.id for e in sb.get_execution_history(status="running").entries] == [job.id]

    with pytest.raises(bay_sdk.ConflictError) as ei:
        sb.python.exec("1")
    assert ei.value.details["reason"] == "kernel_busy"
    assert ei.value.details["running_execution_id"] == job.id
    assert sb.shell.exec("echo ok").output == "ok"  # shell is not blocked

    time.sleep(0.5)
    began = time.monotonic()
    job.cancel()
    rec = job.wait(20)
    assert rec.status == "cancelled" and job.done
    assert time.monotonic() - began < 10
    assert sb.python.exec("print(survivor + 1)").output == "42"
    with pytest.raises(bay_sdk.ConflictError):
        job.cancel()

    # wait() with a deadline shorter than the execution returns it running.
    slow = sb.shell.submit("sleep 4; echo slow", timeout=60)
    rec = slow.wait(1)
    assert rec.status == "running"
    assert slow.wait().output == "slow\n"


# -- errors ---------------------------------------------------------------------------


@contextmanager
def raises(cls: type[bay_sdk.BayError], status: int, code: str) -> Iterator[Any]:
    with pytest.raises(cls) as ei:
        yield ei
    e = ei.value
    assert type(e) is cls, repr(e)
    assert (e.status_code, e.code) == (status, code), repr(e)
    assert e.request_id and e.message


def test_errors(live: dict[str, str], client: SyncBayClient,
                new_sandbox: Callable[..., bay_sdk.SyncSandbox]) -> None:
    with SyncBayClient(live["url"], "definitely-not-the-key", max_retries=0) as bad:
        with raises(bay_sdk.UnauthorizedError, 401, "unauthorized"):
            bad.list_sandboxes()
    with raises(bay_sdk.NotFoundError, 404, "not_found"):
        client.get_sandbox("sandbox-000000000000")
    with raises(bay_sdk.ValidationError, 400, "validation_error") as ei:
        client.create_sandbox(profile="no-such-profile")
    assert "profile" in ei.value.message.lower()

    sb = new_sandbox()
    with raises(bay_sdk.ValidationError, 422, "validation_error") as ei:
        sb.python.exec("1", timeout=301)
    assert any(e.get("loc") == ["body", "timeout"] for e in ei.value.errors)
    with raises(bay_sdk.ValidationError, 400, "validation_error"):
        sb.extend_ttl(0)
    with raises(bay_sdk.InvalidPathError, 400, "invalid_path") as ei:
        sb.filesystem.read_file("../etc/passwd")
    assert ei.value.details == {"field": "path", "reason": "path_traversal"}
    with raises(bay_sdk.ShipError, 502, "ship_error"):
        sb.filesystem.read_file("missing.txt")
    with raises(bay_sdk.LockerFileNotFoundError, 404, "file_not_found"):
        sb.filesystem.download("missing.bin")
    with raises(bay_sdk.MethodNotAllowedError, 405, "method_not_allowed"):
        client.request("PATCH", f"/v1/sandboxes/{sb.id}")
    with raises(bay_sdk.UpgradeRequiredError, 426, "upgrade_required"):
        client.request("GET", f"/v1/sandboxes/{sb.id}/terminal")

    key = "sdk-conflict-" + os.urandom(6).hex()
    first = client.create_sandbox(ttl=600, idempotency_key=key)
    try:
        with raises(bay_sdk.ConflictError, 409, "conflict"):
            client.create_sandbox(ttl=601, idempotency_key=key)
    finally:
        first.delete()

    forever = new_sandbox(ttl=None)
    assert forever.expires_at is None
    with raises(bay_sdk.SandboxTTLInfiniteError, 409, "sandbox_ttl_infinite"):
        forever.extend_ttl(10)

    if "python-only-test" in profiles(client):
        only = new_sandbox(profile="python-only-test")
        with raises(bay_sdk.CapabilityNotSupportedError, 400, "capability_not_supported") as ei:
            only.shell.exec("ls")
        assert ei.value.details["capability"] == "shell"
        with raises(bay_sdk.CapabilityNotSupportedError, 400, "capability_not_supported"):
            for _ in only.shell.stream("ls"):
                pass

    short = new_sandbox(ttl=1)
    time.sleep(1.5)
    with raises(bay_sdk.SandboxExpiredError, 409, "sandbox_expired"):
        short.python.exec("1")
    with raises(bay_sdk.SandboxExpiredError, 409, "sandbox_expired"):
        short.extend_ttl(10)

    if "missing-image" in profiles(client):
        broken = new_sandbox(profile="missing-image")
        with raises(bay_sdk.InternalError, 500, "internal_error"):
            broken.python.exec("1")


def test_payload_too_large(new_sandbox: Callable[..., bay_sdk.SyncSandbox]) -> None:
    limit = os.environ.get("BAY_TEST_MAX_BODY_BYTES")
    if not limit:
        pytest.skip("BAY_TEST_MAX_BODY_BYTES is not set (a small server.max_body_bytes)")
    sb = new_sandbox()
    with raises(bay_sdk.PayloadTooLargeError, 413, "payload_too_large") as ei:
        sb.filesystem.write_file("big.txt", "x" * (int(limit) + 40_000))
    assert ei.value.details["limit_bytes"] == int(limit)


def test_forbidden(live: dict[str, str]) -> None:
    key = os.environ.get("BAY_TEST_SCOPED_KEY")
    if not key:
        pytest.skip("BAY_TEST_SCOPED_KEY is not set (a key without the sandboxes scope)")
    with SyncBayClient(live["url"], key, max_retries=0) as c:
        with raises(bay_sdk.ForbiddenError, 403, "forbidden") as ei:
            c.list_sandboxes()
        assert ei.value.details["scope"] == "sandboxes"
        assert isinstance(c.lockers.list().items, list)  # what it may do


def test_quota_exceeded(live: dict[str, str]) -> None:
    key = os.environ.get("BAY_TEST_QUOTA_KEY")
    if not key:
        pytest.skip("BAY_TEST_QUOTA_KEY is not set (an owner allowed one locker)")
    with SyncBayClient(live["url"], key, max_retries=0) as c:
        one = c.lockers.create()
        try:
            with raises(bay_sdk.QuotaExceededError, 429, "quota_exceeded") as ei:
                c.lockers.create()
            assert ei.value.details["limit"] == "max_lockers"
        finally:
            c.lockers.delete(one.id)


def test_gc_running(live: dict[str, str]) -> None:
    async def main() -> bool:
        async with BayClient(live["url"], live["key"] or None, max_retries=0) as c:
            for _ in range(50):
                res = await asyncio.gather(
                    *[c.request("POST", "/v1/admin/gc/run", json={"tasks": ["orphan_container"]}) for _ in range(8)],
                    return_exceptions=True)
                errs = [r for r in res if isinstance(r, BaseException)]
                for e in errs:
                    assert type(e) is bay_sdk.GCRunningError and e.status_code == 423, repr(e)
                if errs:
                    return True
        return False

    if not arun(main()):
        pytest.skip("no two GC runs overlapped")


def test_capabilities_info(new_sandbox: Callable[..., bay_sdk.SyncSandbox]) -> None:
    sb = new_sandbox()
    caps = sb.capabilities_info()
    assert caps.sandbox_id == sb.id and caps.profile is not None and caps.profile.id == "python-default"
    assert set(caps.effective) >= {"python", "shell", "filesystem"}
    assert "exec_stream" in caps.runtime["capabilities"]["python"]["operations"]
    assert sb.capabilities_info(refresh=True).sandbox_id == sb.id


def test_env_configuration(live: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BAY_URL", raising=False)
    monkeypatch.delenv("BAY_API_KEY", raising=False)
    monkeypatch.setenv("BAY_ENDPOINT", live["url"])
    monkeypatch.setenv("BAY_TOKEN", live["key"])
    with SyncBayClient() as c:
        assert isinstance(c.list_sandboxes(limit=1).items, list)
    monkeypatch.setenv("BAY_URL", live["url"])
    monkeypatch.setenv("BAY_API_KEY", live["key"])
    monkeypatch.setenv("BAY_TOKEN", "wrong")

    async def main() -> None:
        async with BayClient() as c:
            await c.list_sandboxes(limit=1)

    arun(main())

"""Configuration, data classes and what each method sends (stub server)."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs

import pytest

import bay_sdk
from bay_sdk import BayClient, SyncBayClient
from bay_sdk.types import parse_timestamp

from .conftest import Reply, Seen, Stub
from .test_retry import EXEC, SB, sandbox

ENV = ("BAY_URL", "BAY_ENDPOINT", "BAY_API_KEY", "BAY_TOKEN", "BAY_TIMEOUT", "BAY_MAX_RETRIES")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for n in ENV:
        monkeypatch.delenv(n, raising=False)
    return monkeypatch


def test_env_and_arguments(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError):
        SyncBayClient()
    clean_env.setenv("BAY_ENDPOINT", "http://fallback:1")
    clean_env.setenv("BAY_TOKEN", "tok-fallback")
    with SyncBayClient() as c:
        s = c.settings
        assert (s.base_url, s.access_token, s.timeout, s.max_retries) == ("http://fallback:1", "tok-fallback", 30.0, 3)
    clean_env.setenv("BAY_URL", "http://primary:2/")
    clean_env.setenv("BAY_API_KEY", "tok-primary")
    clean_env.setenv("BAY_TIMEOUT", "12.5")
    clean_env.setenv("BAY_MAX_RETRIES", "7")
    with SyncBayClient() as c:
        s = c.settings
        assert (s.base_url, s.access_token, s.timeout, s.max_retries) == ("http://primary:2", "tok-primary", 12.5, 7)
    # Arguments win, 0 included.
    with SyncBayClient("http://arg:3", "tok-arg", owner="me", timeout=5, max_retries=0) as c:
        s = c.settings
        assert (s.base_url, s.access_token, s.owner, s.timeout, s.max_retries) == ("http://arg:3", "tok-arg", "me",
                                                                                   5.0, 0)
    clean_env.setenv("BAY_TIMEOUT", "soon")
    with pytest.raises(ValueError):
        SyncBayClient()


def test_headers_sent(stub: Stub, clean_env: pytest.MonkeyPatch) -> None:
    stub.default = Reply(200, {"items": [], "next_cursor": None})
    with SyncBayClient(stub.url, "secret", owner="team-a") as c:
        c.list_sandboxes()
    with SyncBayClient(stub.url, owner="anon-b") as c:  # anonymous
        c.list_sandboxes()
    a, b = stub.requests
    assert a.header("Authorization") == "Bearer secret" and a.header("X-Owner") == "team-a"
    assert (a.header("User-Agent") or "").startswith("bay-sdk-python/")
    assert b.header("Authorization") is None and b.header("X-Owner") == "anon-b"


def test_timestamps() -> None:
    utc = timezone.utc
    assert parse_timestamp("2026-01-30T07:00:00.123456Z") == datetime(2026, 1, 30, 7, 0, 0, 123456, tzinfo=utc)
    assert parse_timestamp("2026-01-30T07:00:00Z") == datetime(2026, 1, 30, 7, tzinfo=utc)
    assert parse_timestamp("2026-01-30T07:00:00.1234567891Z").microsecond == 123456
    assert parse_timestamp("2026-01-30T07:00:00.5") == datetime(2026, 1, 30, 7, 0, 0, 500000, tzinfo=utc)
    assert parse_timestamp("2026-01-30T09:00:00+02:00") == datetime(2026, 1, 30, 7, tzinfo=utc)
    assert parse_timestamp("2026-01-30T02:00:00-0500") == datetime(2026, 1, 30, 7, tzinfo=utc)
    assert parse_timestamp(None) is None
    with pytest.raises(ValueError):
        parse_timestamp("yesterday")


def test_from_dict_ignores_unknown_fields_and_is_frozen() -> None:
    info = bay_sdk.SandboxInfo.from_dict(dict(SB, brand_new_field=1, status="starting",
                                              expires_at="2026-01-30T08:00:00.000000Z", stop_reason="idle"))
    assert info.status == bay_sdk.SandboxStatus.STARTING and info.status == "starting"
    assert info.expires_at == datetime(2026, 1, 30, 8, tzinfo=timezone.utc)
    assert info.expires_at - info.created_at == timedelta(hours=1)  # type: ignore[operator]
    assert info.stop_reason == "idle"
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.status = "ready"  # type: ignore[misc]
    odd = bay_sdk.SandboxInfo.from_dict(dict(SB, status="hibernating"))
    assert odd.status == "hibernating"  # unknown to this SDK: kept as text
    entry = bay_sdk.ExecutionHistoryEntry.from_dict(dict(EXEC, tags="etl, nightly", exec_type="python"))
    assert entry.tags == ["etl", "nightly"] and entry.exec_type == "python" and entry.running
    hist = bay_sdk.ExecutionHistoryList.from_dict({"items": [EXEC], "next_cursor": "c1", "total": 9})
    assert hist.entries == hist.items and len(hist) == 1 and hist.next_cursor == "c1"
    f = bay_sdk.FileInfo.from_dict({"name": "a", "path": "/workspace/a", "is_file": True, "is_dir": False,
                                    "size": 3, "modified_time": 0.5})
    assert f.modified_at == datetime(1970, 1, 1, 0, 0, 0, 500000, tzinfo=timezone.utc)
    r = bay_sdk.PythonExecResult.from_dict({"success": True, "output": "", "error": None, "data": {
        "execution_count": 4, "kernel_restarted": True, "output": {"text": "", "images": [{"image/png": "x"}]}}})
    assert (r.execution_count, r.kernel_restarted, r.images) == (4, True, [{"image/png": "x"}])
    ev = bay_sdk.DisplayDataEvent.from_dict({"omitted": True, "bytes": 9000000, "mime_types": ["image/png"]})
    assert ev.omitted and ev.data == {} and ev.event == "display_data"


def q(r: Seen) -> dict[str, list[str]]:
    return parse_qs(r.query, keep_blank_values=True)


def test_history_arguments_upstream_and_ours(stub: Stub) -> None:
    page = {"items": [dict(EXEC, notes="n"), dict(EXEC, id="exec-000000000001", notes=None)], "next_cursor": "c2"}
    stub.default = Reply(200, page)
    with SyncBayClient(stub.url, "t") as c:
        sb = sandbox(c)
        sb.get_execution_history(exec_type="python", success_only=True, tags="etl, nightly", limit=500)
        sb.get_execution_history(kind="shell", success=False, tags=["a", "b"], has_description=True, order="asc",
                                 since=datetime(2026, 1, 30, 7, tzinfo=timezone.utc), until="2026-02-01T00:00:00Z",
                                 status="finished", cursor="c1", limit=None)
        with_notes = sb.get_execution_history(has_notes=True)
        without = sb.get_execution_history(has_notes=False)
        with pytest.raises(ValueError):
            sb.get_execution_history(kind="python", exec_type="shell")
    a, b, _, _ = stub.requests
    assert all(r.path == f"/v1/sandboxes/{SB['id']}/executions" for r in stub.requests)
    assert q(a) == {"kind": ["python"], "success": ["true"], "tags": ["etl,nightly"], "limit": ["200"]}
    assert q(b) == {"kind": ["shell"], "success": ["false"], "tags": ["a,b"], "has_description": ["true"],
                    "order": ["asc"], "since": ["2026-01-30T07:00:00.000000Z"], "until": ["2026-02-01T00:00:00Z"],
                    "status": ["finished"], "cursor": ["c1"]}
    assert [e.notes for e in with_notes.entries] == ["n"] and with_notes.next_cursor == "c2"
    assert [e.id for e in without.entries] == ["exec-000000000001"]


def test_annotate_is_a_merge_patch(stub: Stub) -> None:
    stub.default = Reply(200, EXEC)
    with SyncBayClient(stub.url, "t") as c:
        sb = sandbox(c)
        sb.annotate_execution(EXEC["id"], notes="keep")
        sb.annotate_execution(EXEC["id"], description=None, tags=None)
        sb.annotate_execution(EXEC["id"], tags="a,b")
        sb.annotate_execution(EXEC["id"])
    bodies = [r.json() for r in stub.requests]
    assert bodies == [{"notes": "keep"}, {"description": None, "tags": None}, {"tags": "a,b"}, {}]
    assert all(r.method == "PATCH" and r.header("Content-Type") == "application/merge-patch+json"
               for r in stub.requests)


def test_exec_bodies_and_ids_in_paths(stub: Stub) -> None:
    stub.add(Reply(200, {"success": True, "output": "x", "error": None, "exit_code": 0,
                         "execution_id": "exec-000000000001", "execution_time_ms": 3, "command": "ls"}),
             Reply(200, EXEC), Reply(200, EXEC), Reply(200, {"sandbox_id": SB["id"], "effective": ["python"],
                                                             "profile": {"id": "p", "capabilities": ["python"]},
                                                             "runtime": {"api_version": "v1"}}))
    with SyncBayClient(stub.url, "t") as c:
        sb = sandbox(c)
        r = sb.shell.exec("ls", cwd="src", timeout=5, include_code=True, description="d", tags=["t"])
        assert r.command == "ls" and r.exit_code == 0
        sb.get_execution("exec/../x", wait=0)
        sb.get_last_execution(exec_type="shell")
        caps = sb.capabilities_info(refresh=True)
        assert caps.effective == ["python"] and caps.profile.id == "p" and caps.runtime == {"api_version": "v1"}
        with pytest.raises(ValueError):
            sb.get_execution("e", wait=61)
    ex, one, last, cap = stub.requests
    assert ex.json() == {"command": "ls", "timeout": 5, "cwd": "src", "description": "d", "tags": ["t"],
                         "include_code": True}
    assert one.path == f"/v1/sandboxes/{SB['id']}/executions/exec%2F..%2Fx" and one.query == "wait=0"
    assert last.path.endswith("/executions/last") and last.query == "kind=shell"
    assert cap.path.endswith("/capabilities") and cap.query == "refresh=true"


def test_iter_sandboxes_pages(stub: Stub) -> None:
    stub.add(Reply(200, {"items": [SB, dict(SB, id="sandbox-000000000002")], "next_cursor": "sandbox-000000000002"}),
             Reply(200, {"items": [dict(SB, id="sandbox-000000000003")], "next_cursor": None}))
    with SyncBayClient(stub.url, "t") as c:
        ids = [s.id for s in c.iter_sandboxes(status="idle", page_size=2)]
    assert ids == [SB["id"], "sandbox-000000000002", "sandbox-000000000003"]
    assert [q(r) for r in stub.requests] == [{"limit": ["2"], "status": ["idle"]},
                                             {"limit": ["2"], "cursor": ["sandbox-000000000002"],
                                              "status": ["idle"]}]
    stub.requests.clear()
    stub.add(Reply(200, {"items": [SB], "next_cursor": None}))

    async def go() -> list[str]:
        async with BayClient(stub.url, "t") as c:
            return [s.id async for s in c.iter_sandboxes()]

    assert asyncio.run(go()) == [SB["id"]]


def test_request_escape_hatch(stub: Stub) -> None:
    stub.add(Reply(200, {"results": []}), Reply(204), Reply(200, b"raw", {"Content-Type": "text/plain"}))
    with SyncBayClient(stub.url, "t") as c:
        assert c.request("post", "/v1/admin/gc/run", json={"tasks": ["idle_session"]}) == {"results": []}
        assert c.request("DELETE", "/v1/whatever") is None
        assert c.request("GET", "/v1/raw", params={"a": 1, "b": None, "c": False}) == b"raw"
        with pytest.raises(ValueError):
            c.request("GET", "v1/no-slash")
    gc, dele, raw = stub.requests
    assert gc.method == "POST" and gc.json() == {"tasks": ["idle_session"]}
    assert dele.body == b"" and dele.header("Content-Type") is None
    assert raw.query == "a=1&c=false"


def test_lockers_calls(stub: Stub) -> None:
    lk = {"id": "locker-abc123def456", "managed": False, "managed_by_sandbox_id": None, "backend": "docker_volume",
          "size_limit_mb": 1024, "created_at": SB["created_at"], "last_accessed_at": SB["created_at"]}
    stub.add(Reply(201, lk), Reply(200, {"items": [lk], "next_cursor": None}), Reply(200, {"status": "ok"}),
             Reply(200, {"content": "hi"}), Reply(204))
    with SyncBayClient(stub.url, "t") as c:
        assert c.lockers.create().id == lk["id"]
        assert c.lockers.list(managed=True).items[0].backend == "docker_volume"
        c.lockers.write_file(lk["id"], "a.txt", "hi")
        assert c.lockers.read_file(lk["id"], "a.txt") == "hi"
        c.lockers.delete(lk["id"])
    create, lst, write, read, delete = stub.requests
    assert create.json() == {} and create.header("Idempotency-Key")
    assert q(lst) == {"limit": ["50"], "managed": ["true"]}
    assert write.path == f"/v1/lockers/{lk['id']}/files/write" and write.json() == {"path": "a.txt", "content": "hi"}
    assert read.path.endswith("/files/read") and read.json() == {"path": "a.txt"}
    assert delete.method == "DELETE"


def test_invalid_success_body_is_a_bay_error(stub: Stub) -> None:
    stub.add(Reply(200, b"<html>not json</html>", {"Content-Type": "text/html"}))
    with SyncBayClient(stub.url, "t") as c, pytest.raises(bay_sdk.BayError) as ei:
        c.get_sandbox(SB["id"])
    assert ei.value.code == "invalid_response" and "<html>" in ei.value.details["body"]


def test_public_names() -> None:
    for name in ("BayClient", "SyncBayClient", "LockerManager", "LockerInfo", "LockerList", "Sandbox",
                 "ExecutionHistoryList", "StartEvent", "StdoutEvent", "StderrEvent", "DisplayDataEvent",
                 "ResultEvent", "ErrorEvent", "DoneEvent", "Execution", "SandboxInfo", "PythonExecResult",
                 "ShellExecResult", "BayError"):
        assert hasattr(bay_sdk, name), name
    assert not hasattr(bay_sdk, "CargoManager")
    assert list(inspect.signature(BayClient.__init__).parameters)[1:7] == ["endpoint_url", "access_token", "owner", "timeout", "max_retries",
                                   "stream_heartbeat"]
    assert list(inspect.signature(bay_sdk.Sandbox.extend_ttl).parameters)[1:] == ["seconds", "idempotency_key"]
    assert list(inspect.signature(BayClient.create_sandbox).parameters)[1:] == ["profile", "locker_id", "ttl",
                                                                                "idempotency_key"]
    assert list(inspect.signature(bay_sdk.ShellCapability.exec).parameters)[1:] == [
        "command", "cwd", "timeout", "include_code", "description", "tags"]
    assert list(inspect.signature(bay_sdk.PythonCapability.exec).parameters)[1:] == [
        "code", "timeout", "include_code", "description", "tags"]

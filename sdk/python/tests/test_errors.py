"""Error mapping: code first, then status; non-JSON bodies; fault events."""

from __future__ import annotations

import json
import os
import pickle
import re

import pytest

import bay_sdk
from bay_sdk import errors
from bay_sdk._core import Call
from bay_sdk._ops import StreamDecoder
from bay_sdk.errors import BayError, error_from_response

# §5's names: CamelCase + Error, with its exceptions.
EXPECTED = {
    "validation_error": ("ValidationError", 400),
    "invalid_path": ("InvalidPathError", 400),
    "capability_not_supported": ("CapabilityNotSupportedError", 400),
    "unauthorized": ("UnauthorizedError", 401),
    "forbidden": ("ForbiddenError", 403),
    "not_found": ("NotFoundError", 404),
    "file_not_found": ("LockerFileNotFoundError", 404),
    "method_not_allowed": ("MethodNotAllowedError", 405),
    "conflict": ("ConflictError", 409),
    "sandbox_expired": ("SandboxExpiredError", 409),
    "sandbox_ttl_infinite": ("SandboxTTLInfiniteError", 409),
    "payload_too_large": ("PayloadTooLargeError", 413),
    "gc_running": ("GCRunningError", 423),
    "upgrade_required": ("UpgradeRequiredError", 426),
    "quota_exceeded": ("QuotaExceededError", 429),
    "internal_error": ("InternalError", 500),
    "ship_error": ("ShipError", 502),
    "session_not_ready": ("SessionNotReadyError", 503),
    "service_unavailable": ("ServiceUnavailableError", 503),
    "timeout": ("RequestTimeoutError", 504),
}


def answer(status: int, body: object, headers: dict[str, str] | None = None) -> BayError:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return error_from_response(status, headers or {}, raw)


def test_every_contract_code_has_its_class() -> None:
    """The ErrorCode enum of openapi/bay.yaml, when the tree is there."""
    spec = os.path.join(os.path.dirname(__file__), "..", "..", "..", "openapi", "bay.yaml")
    if not os.path.exists(spec):
        pytest.skip("openapi/bay.yaml is not beside the SDK")
    text = open(spec, encoding="utf-8").read()
    block = re.search(r"\n    ErrorCode:\n(.*?)\n    ErrorBody:", text, re.S)
    assert block, "ErrorCode schema not found"
    enum = re.search(r"enum:\n((?:\s+- \w+\n?)+)", block.group(1))
    assert enum
    codes = re.findall(r"- (\w+)", enum.group(1))
    assert sorted(codes) == sorted(EXPECTED)
    assert sorted(errors.ERROR_CODE_MAP) == sorted(codes)


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_code_picks_the_class(code: str) -> None:
    name, status = EXPECTED[code]
    cls = getattr(bay_sdk, name)
    assert issubclass(cls, BayError)
    assert errors.ERROR_CODE_MAP[code] is cls
    e = answer(status, {"error": {"code": code, "message": "m", "request_id": "r1", "details": {"k": 1}}})
    assert type(e) is cls
    assert (e.code, e.message, e.details, e.request_id, e.status_code) == (code, "m", {"k": 1}, "r1", status)


def test_code_wins_over_status() -> None:
    # validation_error comes with 400 and 422; file_not_found and not_found share 404.
    e = answer(422, {"error": {"code": "validation_error", "message": "bad", "request_id": "r"},
                     "detail": [{"loc": ["body", "timeout"], "msg": "too big", "type": "less_than_equal"}]})
    assert isinstance(e, bay_sdk.ValidationError) and e.status_code == 422
    assert e.errors == [{"loc": ["body", "timeout"], "msg": "too big", "type": "less_than_equal"}]
    e = answer(404, {"error": {"code": "file_not_found", "message": "File not found: x", "request_id": "r"}})
    assert isinstance(e, bay_sdk.LockerFileNotFoundError)
    e = answer(409, {"error": {"code": "sandbox_expired", "message": "x", "request_id": "r"}})
    assert type(e) is bay_sdk.SandboxExpiredError


def test_unknown_code_falls_back_to_status_and_keeps_the_code() -> None:
    e = answer(409, {"error": {"code": "brand_new_conflict", "message": "x", "request_id": "r"}})
    assert type(e) is bay_sdk.ConflictError
    assert e.code == "brand_new_conflict"
    e = answer(418, {"error": {"code": "teapot", "message": "x", "request_id": "r"}})
    assert type(e) is BayError and e.code == "teapot"


@pytest.mark.parametrize("status,cls", [
    (400, bay_sdk.ValidationError), (401, bay_sdk.UnauthorizedError), (403, bay_sdk.ForbiddenError),
    (404, bay_sdk.NotFoundError), (405, bay_sdk.MethodNotAllowedError), (409, bay_sdk.ConflictError),
    (413, bay_sdk.PayloadTooLargeError), (422, bay_sdk.ValidationError), (423, bay_sdk.GCRunningError),
    (426, bay_sdk.UpgradeRequiredError), (429, bay_sdk.QuotaExceededError), (500, bay_sdk.InternalError),
    (502, bay_sdk.ShipError), (503, bay_sdk.SessionNotReadyError), (504, bay_sdk.RequestTimeoutError),
])
def test_non_json_body_maps_by_status_with_a_snippet(status: int, cls: type[BayError]) -> None:
    html = b"<html><body>" + b"proxy says no " * 100 + b"</body></html>"
    e = error_from_response(status, {"Content-Type": "text/html", "X-Request-Id": "rid-9"}, html)
    assert type(e) is cls
    assert e.status_code == status
    assert e.code == cls.default_code
    assert e.request_id == "rid-9"
    assert e.details["body"] == html.decode()[:500]
    assert len(e.details["body"]) == 500
    assert e.details["content_type"] == "text/html"


def test_other_bodies() -> None:
    e = error_from_response(418, {}, b"short and stout")
    assert type(e) is BayError and e.code == "http_418" and e.details == {"body": "short and stout"}
    e = error_from_response(502, {}, b"")
    assert type(e) is bay_sdk.ShipError and e.details == {"body": ""}
    e = error_from_response(502, {}, b"\xff\xfe not utf-8")
    assert type(e) is bay_sdk.ShipError and "not utf-8" in e.details["body"]
    e = error_from_response(503, {}, b"[1, 2]")  # JSON, but no envelope
    assert type(e) is bay_sdk.SessionNotReadyError
    # The framework shape without the envelope (the original project's).
    e = answer(404, {"detail": "Not Found"})
    assert type(e) is bay_sdk.NotFoundError and e.message == "Not Found"
    e = answer(422, {"detail": [{"loc": ["query", "limit"], "msg": "m", "type": "t"}]})
    assert type(e) is bay_sdk.ValidationError and e.errors[0]["loc"] == ["query", "limit"]


def test_retry_after_and_execution_id() -> None:
    e = error_from_response(503, {"Retry-After": "2"}, json.dumps(
        {"error": {"code": "session_not_ready", "message": "m", "request_id": "r",
                   "details": {"sandbox_id": "sandbox-1", "retry_after_ms": 1000}}}).encode())
    assert e.retry_after == 2.0
    e = answer(503, {"error": {"code": "session_not_ready", "message": "m", "request_id": "r",
                               "details": {"retry_after_ms": 1500}}})
    assert e.retry_after == 1.5
    e = answer(502, {"error": {"code": "ship_error", "message": "m", "request_id": "r",
                               "details": {"execution_id": "exec-0123456789ab"}}})
    assert e.execution_id == "exec-0123456789ab"


def test_str_repr_pickle() -> None:
    e = answer(404, {"error": {"code": "not_found", "message": "Sandbox not found: x", "request_id": "r7"}})
    assert "Sandbox not found: x" in str(e) and "not_found" in str(e) and "r7" in str(e)
    assert "NotFoundError" in repr(e)
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is bay_sdk.NotFoundError
    assert (back.code, back.message, back.request_id, back.status_code) == ("not_found", "Sandbox not found: x",
                                                                            "r7", 404)
    # Constructed by hand: positional (code, message, details, request_id, status_code).
    e2 = bay_sdk.ShipError("ship_error", "boom", {"a": 1}, "rid", 502)
    assert (e2.code, e2.message, e2.details, e2.request_id, e2.status_code) == ("ship_error", "boom", {"a": 1},
                                                                                "rid", 502)
    assert bay_sdk.NotFoundError().code == "not_found" and bay_sdk.NotFoundError().status_code == 404


def test_fault_event_raises_the_mapped_error() -> None:
    dec = StreamDecoder(Call("POST", "/v1/sandboxes/s/python/exec/stream"))
    evs = dec.feed(b'event: start\ndata: {"execution_id":"exec-aaaaaaaaaaaa","sandbox_id":"s","kind":"python",'
                   b'"timeout":30,"created_at":"2026-01-30T07:00:00.123456Z"}\n\n')
    assert evs[0].execution_id == "exec-aaaaaaaaaaaa"
    evs = dec.feed(b'event: stdout\ndata: {"text":"x"}\n\nevent: fault\ndata: {"execution_id":"exec-aaaaaaaaaaaa",'
                   b'"error":{"code":"ship_error","message":"Ship request error: EOF","details":{},'
                   b'"request_id":"rq"}}\n\nevent: stdout\ndata: {"text":"never"}\n\n')
    assert [e.text for e in evs] == ["x"]  # what came before the fault is delivered first
    with pytest.raises(bay_sdk.ShipError) as ei:
        dec.check()
    assert ei.value.execution_id == "exec-aaaaaaaaaaaa"
    assert ei.value.request_id == "rq"
    assert ei.value.status_code == 502
    dec = StreamDecoder(Call("POST", "/x"))
    assert dec.feed(b'event: fault\ndata: {"execution_id":"exec-bbbbbbbbbbbb","error":{"code":"timeout",'
                    b'"message":"t","request_id":"rq"}}\n\n') == []
    with pytest.raises(bay_sdk.RequestTimeoutError) as ei:
        dec.check()
    assert ei.value.execution_id == "exec-bbbbbbbbbbbb"


def test_stream_cut_before_done() -> None:
    dec = StreamDecoder(Call("POST", "/x"))
    dec.feed(b'event: start\ndata: {"execution_id":"exec-cccccccccccc"}\n\nevent: stdout\ndata: {"text":"a"}\n\n')
    dec.check()  # nothing wrong yet
    assert dec.end() == []
    with pytest.raises(bay_sdk.BayConnectionError) as ei:
        dec.check()
    assert ei.value.execution_id == "exec-cccccccccccc"
    assert isinstance(ei.value, BayError)

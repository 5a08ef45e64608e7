"""Exceptions raised by the SDK.

Every error Bay answers becomes an instance of :class:`BayError` or of one of
its subclasses: one class per error code of the API (``error.code`` of the
envelope picks it; when the body carries no code, the HTTP status does).
Failures that never produced an answer (connection refused, a stream cut
short, a client-side time-out) raise :class:`BayConnectionError`, also a
:class:`BayError`, so ``except BayError`` catches everything the SDK raises
about the service.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "BayError",
    "BayConnectionError",
    "ValidationError",
    "InvalidPathError",
    "CapabilityNotSupportedError",
    "UnauthorizedError",
    "ForbiddenError",
    "NotFoundError",
    "LockerFileNotFoundError",
    "MethodNotAllowedError",
    "ConflictError",
    "SandboxExpiredError",
    "SandboxTTLInfiniteError",
    "PayloadTooLargeError",
    "GCRunningError",
    "UpgradeRequiredError",
    "QuotaExceededError",
    "InternalError",
    "ShipError",
    "SessionNotReadyError",
    "ServiceUnavailableError",
    "RequestTimeoutError",
    "ERROR_CODE_MAP",
    "STATUS_CODE_MAP",
    "error_from_response",
    "error_from_body",
]

#: How much of a body that is not the JSON envelope is kept in ``details``.
SNIPPET_CHARS = 500


class BayError(Exception):
    """An error answered by Bay (or met on the way to it).

    Attributes:
        code: the machine-readable error code (``not_found``, ``ship_error``…).
        message: human-readable text; not stable.
        details: the envelope's ``details`` object (``{}`` when absent).
        request_id: the request's ``X-Request-Id`` (quote it in bug reports).
        status_code: the HTTP status, or ``None`` when there was no answer.
        execution_id: the execution record concerned, when Bay names one
            (``details.execution_id`` of a 502/504 exec answer, a stream's
            ``fault`` event, a stream cut short).
        retry_after: seconds Bay asked to wait before retrying, if it said.
    """

    #: The code this class stands for (subclasses set it).
    default_code: ClassVar[str] = "error"
    #: The HTTP status this class usually comes with.
    default_status: ClassVar[int | None] = None

    def __init__(
        self,
        code: str | None = None,
        message: str | None = None,
        details: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        status_code: int | None = None,
        *,
        execution_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.code: str = code or type(self).default_code
        self.message: str = message if message is not None else self.code
        self.details: dict[str, Any] = dict(details) if details else {}
        self.request_id: str | None = request_id
        self.status_code: int | None = status_code if status_code is not None else type(self).default_status
        exec_id = execution_id
        if exec_id is None and isinstance(self.details.get("execution_id"), str):
            exec_id = self.details["execution_id"]
        self.execution_id: str | None = exec_id
        self.retry_after: float | None = retry_after
        super().__init__(self.message)

    def __str__(self) -> str:
        parts = [self.code]
        if self.status_code is not None:
            parts.append(f"HTTP {self.status_code}")
        if self.execution_id:
            parts.append(f"execution {self.execution_id}")
        if self.request_id:
            parts.append(f"request {self.request_id}")
        return f"{self.message} [{', '.join(parts)}]"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
            f"status_code={self.status_code!r}, request_id={self.request_id!r})"
        )

    def __reduce__(self) -> Any:  # keep the attributes through pickling
        return (
            _rebuild,
            (type(self), self.code, self.message, self.details, self.request_id, self.status_code,
             self.execution_id, self.retry_after),
        )


def _rebuild(cls: type[BayError], *args: Any) -> BayError:
    code, message, details, request_id, status_code, execution_id, retry_after = args
    return cls(code, message, details, request_id, status_code, execution_id=execution_id, retry_after=retry_after)


class BayConnectionError(BayError):
    """No (complete) answer from Bay: connection refused or reset, a time-out
    on the client's side, or an event stream that ended before ``done``.

    ``execution_id`` is set when a stream was cut after its ``start`` event:
    the execution goes on; read its record with ``get_execution``."""

    default_code = "connection_error"


class ValidationError(BayError):
    """``validation_error``: 400 for a business rule (unknown profile,
    ``extend_by <= 0``), 422 for a request of the wrong shape (``errors``
    lists the problems)."""

    default_code = "validation_error"
    default_status = 400

    @property
    def errors(self) -> list[dict[str, Any]]:
        """The request-shape problems (``loc``, ``msg``, ``type``) of a 422."""
        errs = self.details.get("errors")
        return list(errs) if isinstance(errs, list) else []


class InvalidPathError(BayError):
    """``invalid_path`` (400): the path is empty, absolute, escapes the
    workspace or holds a NUL byte (``details.field``, ``details.reason``)."""

    default_code = "invalid_path"
    default_status = 400


class CapabilityNotSupportedError(BayError):
    """``capability_not_supported`` (400): the sandbox's profile or runtime
    lacks the capability (``details.capability``, ``details.available``)."""

    default_code = "capability_not_supported"
    default_status = 400


class UnauthorizedError(BayError):
    """``unauthorized`` (401): missing or wrong API key."""

    default_code = "unauthorized"
    default_status = 401


class ForbiddenError(BayError):
    """``forbidden`` (403): the API key lacks the scope the call needs
    (``details.scope``)."""

    default_code = "forbidden"
    default_status = 403


class NotFoundError(BayError):
    """``not_found`` (404): unknown, deleted or another owner's resource."""

    default_code = "not_found"
    default_status = 404


class LockerFileNotFoundError(BayError):
    """``file_not_found`` (404): the file does not exist (download, locker
    read). Upstream: ``CargoFileNotFoundError``."""

    default_code = "file_not_found"
    default_status = 404


class MethodNotAllowedError(BayError):
    """``method_not_allowed`` (405)."""

    default_code = "method_not_allowed"
    default_status = 405


class ConflictError(BayError):
    """``conflict`` (409): idempotency key reused or malformed, locker in use,
    kernel busy (``details.reason == "kernel_busy"``), cancel of a finished
    execution."""

    default_code = "conflict"
    default_status = 409


class SandboxExpiredError(BayError):
    """``sandbox_expired`` (409): the sandbox's TTL has passed."""

    default_code = "sandbox_expired"
    default_status = 409


class SandboxTTLInfiniteError(BayError):
    """``sandbox_ttl_infinite`` (409): ``extend_ttl`` on a sandbox that never
    expires."""

    default_code = "sandbox_ttl_infinite"
    default_status = 409


class PayloadTooLargeError(BayError):
    """``payload_too_large`` (413): body or upload above the server's limit
    (``details.limit_bytes``), or a write past a locker's size."""

    default_code = "payload_too_large"
    default_status = 413


class GCRunningError(BayError):
    """``gc_running`` (423): a garbage-collection cycle is already running."""

    default_code = "gc_running"
    default_status = 423


class UpgradeRequiredError(BayError):
    """``upgrade_required`` (426): the endpoint only speaks WebSocket."""

    default_code = "upgrade_required"
    default_status = 426


class QuotaExceededError(BayError):
    """``quota_exceeded`` (429): a per-owner limit (``details.limit``,
    ``details.max``, ``details.current``)."""

    default_code = "quota_exceeded"
    default_status = 429


class InternalError(BayError):
    """``internal_error`` (500): an unexpected failure in Bay."""

    default_code = "internal_error"
    default_status = 500


class ShipError(BayError):
    """``ship_error`` (502): the runtime failed, was unreachable or answered
    nonsense. An exec that ends so names its (lost) record in
    ``execution_id``."""

    default_code = "ship_error"
    default_status = 502


class SessionNotReadyError(BayError):
    """``session_not_ready`` (503): the runtime did not become ready in time
    (``retry_after`` says when to try again)."""

    default_code = "session_not_ready"
    default_status = 503


class ServiceUnavailableError(BayError):
    """``service_unavailable`` (503): Bay is starting and has not opened its
    API yet; the request was not handled, so any call may be sent again
    (``retry_after`` says when)."""

    default_code = "service_unavailable"
    default_status = 503


class RequestTimeoutError(BayError):
    """``timeout`` (504): Bay's call to the runtime timed out."""

    default_code = "timeout"
    default_status = 504


#: Error code → exception class.
ERROR_CODE_MAP: dict[str, type[BayError]] = {
    cls.default_code: cls
    for cls in (
        ValidationError, InvalidPathError, CapabilityNotSupportedError, UnauthorizedError, ForbiddenError,
        NotFoundError, LockerFileNotFoundError, MethodNotAllowedError, ConflictError, SandboxExpiredError,
        SandboxTTLInfiniteError, PayloadTooLargeError, GCRunningError, UpgradeRequiredError,
        QuotaExceededError, InternalError, ShipError, SessionNotReadyError, ServiceUnavailableError,
        RequestTimeoutError,
    )
}

#: HTTP status → exception class, for answers without an error code.
STATUS_CODE_MAP: dict[int, type[BayError]] = {
    400: ValidationError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: ValidationError,
    423: GCRunningError,
    426: UpgradeRequiredError,
    429: QuotaExceededError,
    500: InternalError,
    502: ShipError,
    503: SessionNotReadyError,
    504: RequestTimeoutError,
}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    v = headers.get(name)
    if v is None:
        v = headers.get(name.lower())
    return v


def retry_after_seconds(headers: Mapping[str, str] | None, details: Mapping[str, Any] | None) -> float | None:
    """What the answer asks to wait: ``Retry-After`` (seconds), else
    ``details.retry_after_ms``; ``None`` when it says nothing usable."""
    if headers is not None:
        v = _header(headers, "Retry-After")
        if v is not None:
            try:
                secs = float(v.strip())
            except ValueError:
                secs = -1.0  # an HTTP date: not sent by Bay, fall through
            if secs >= 0:
                return secs
    if details:
        ms = details.get("retry_after_ms")
        if isinstance(ms, (int, float)) and not isinstance(ms, bool) and ms >= 0:
            return ms / 1000.0
    return None


def error_from_body(
    status_code: int | None,
    error: Mapping[str, Any],
    *,
    request_id: str | None = None,
    execution_id: str | None = None,
    retry_after: float | None = None,
) -> BayError:
    """The exception for an envelope's ``error`` object (also a stream's
    ``fault`` event)."""
    code = error.get("code") if isinstance(error.get("code"), str) else None
    message = error.get("message") if isinstance(error.get("message"), str) else None
    details = error.get("details")
    if details is None:
        details = {}
    elif not isinstance(details, Mapping):
        details = {"details": details}
    rid = error.get("request_id") if isinstance(error.get("request_id"), str) else None
    cls: type[BayError] | None = ERROR_CODE_MAP.get(code) if code else None
    if cls is None and status_code is not None:
        cls = STATUS_CODE_MAP.get(status_code)
    if cls is None:
        cls = BayError
    if code is None:
        code = cls.default_code if cls is not BayError else f"http_{status_code}"
    if status_code is None:
        status_code = cls.default_status
    return cls(code, message, details, rid or request_id, status_code,
               execution_id=execution_id, retry_after=retry_after)


def error_from_response(status_code: int, headers: Mapping[str, str], body: bytes) -> BayError:
    """The exception for an HTTP error answer (status ≥ 400).

    The envelope's ``error.code`` picks the class; without an envelope (a
    proxy's HTML page, plain text) the status picks it and ``details`` keeps
    the first 500 characters of the body under ``body``."""
    request_id = _header(headers, "X-Request-Id")
    parsed: Any = None
    if body:
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        err = dict(parsed["error"])
        details = err.get("details")
        details = dict(details) if isinstance(details, Mapping) else ({} if details is None else {"details": details})
        # A 422 carries its items in `detail` as well (and in details.errors).
        if isinstance(parsed.get("detail"), list) and "errors" not in details:
            details["errors"] = parsed["detail"]
        err["details"] = details
        return error_from_body(status_code, err, request_id=request_id,
                               retry_after=retry_after_seconds(headers, details))
    details: dict[str, Any] = {}
    message = None
    if isinstance(parsed, dict) and "detail" in parsed:
        # The shape of a framework error without the envelope.
        detail = parsed["detail"]
        if isinstance(detail, str):
            message = detail
        elif isinstance(detail, list):
            details["errors"] = detail
        details["detail"] = detail
    else:
        text = body.decode("utf-8", "replace") if body else ""
        details["body"] = text[:SNIPPET_CHARS]
        ctype = _header(headers, "Content-Type")
        if ctype:
            details["content_type"] = ctype
    if message is None:
        message = f"HTTP {status_code} without an error envelope"
    return error_from_body(status_code, {"message": message, "details": details}, request_id=request_id,
                           retry_after=retry_after_seconds(headers, details))

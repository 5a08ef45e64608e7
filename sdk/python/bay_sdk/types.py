"""The data the API answers, as frozen dataclasses.

Each class has ``from_dict(data)``, which ignores fields it does not know (a
newer Bay may add some) and turns timestamps into aware ``datetime`` objects
in UTC.
"""

from __future__ import annotations

import re
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any, ClassVar, TypeVar, Union

__all__ = [
    "SandboxStatus",
    "ExecutionStatus",
    "parse_timestamp",
    "SandboxInfo",
    "SandboxList",
    "LockerInfo",
    "LockerList",
    "ProfileResources",
    "ProfileInfo",
    "ProfileList",
    "FileInfo",
    "UploadResult",
    "PythonExecResult",
    "ShellExecResult",
    "ExecutionHistoryEntry",
    "ExecutionRecord",
    "ExecutionHistoryList",
    "CapabilitiesProfile",
    "SandboxCapabilities",
    "StreamEvent",
    "StartEvent",
    "StdoutEvent",
    "StderrEvent",
    "DisplayDataEvent",
    "ResultEvent",
    "ErrorEvent",
    "DoneEvent",
    "STREAM_EVENT_TYPES",
]

_TS = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?\s*(Z|z|[+-]\d{2}:?\d{2})?$"
)


def parse_timestamp(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as an aware ``datetime`` in UTC.

    Accepts Bay's form (``2026-01-30T07:00:00.123456Z``), any number of
    fraction digits (cut to microseconds), numeric offsets, and naive values
    (taken as UTC, as the original project printed them). ``None`` stays
    ``None``; a ``datetime`` is converted; anything else raises ValueError."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {value!r}")
    m = _TS.match(value.strip())
    if not m:
        raise ValueError(f"not an RFC 3339 timestamp: {value!r}")
    y, mo, d, h, mi, s, frac, tz = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    tzinfo = timezone.utc
    if tz and tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        tzinfo = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro, tzinfo=tzinfo)
    return dt.astimezone(timezone.utc)


class SandboxStatus(str, Enum):
    """A sandbox's computed status. Compares equal to its string."""

    IDLE = "idle"
    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"
    EXPIRED = "expired"

    def __str__(self) -> str:
        return self.value


class ExecutionStatus(str, Enum):
    """An execution record's state. Compares equal to its string."""

    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    LOST = "lost"

    def __str__(self) -> str:
        return self.value


E = TypeVar("E", bound=Enum)


def _enum(cls: type[E]) -> Any:
    def conv(v: Any) -> Any:
        try:
            return cls(v)
        except ValueError:
            return v  # a value this SDK does not know yet: keep the string

    return conv


def _str_list(v: Any) -> list[str]:
    if isinstance(v, str):  # the compatibility routes' comma-joined tags
        return [t.strip() for t in v.split(",") if t.strip()]
    return [str(x) for x in v]


def _ts_field(default: Any = None) -> Any:
    return field(default=default, metadata={"conv": parse_timestamp})


def _conv_field(conv: Any, default: Any = None, **kw: Any) -> Any:
    if default is MISSING:
        return field(metadata={"conv": conv}, **kw)
    if isinstance(default, (list, dict)):
        factory = list if isinstance(default, list) else dict
        return field(default_factory=factory, metadata={"conv": conv}, **kw)
    return field(default=default, metadata={"conv": conv}, **kw)


T = TypeVar("T", bound="_Model")


class _Model:
    """``from_dict`` for the dataclasses below: known fields only, each
    through its converter (``metadata["conv"]``); missing ones get their
    default, or ``None``."""

    @classmethod
    def from_dict(cls: type[T], data: Any) -> T:
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise TypeError(f"{cls.__name__}.from_dict wants a dict, got {type(data).__name__}")
        kwargs: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            if not f.init:
                continue
            if f.name in data:
                v = data[f.name]
                conv = f.metadata.get("conv")
                if conv is not None and v is not None:
                    v = conv(v)
                kwargs[f.name] = v
            elif f.default is MISSING and f.default_factory is MISSING:
                kwargs[f.name] = None
        return cls(**kwargs)


# -- sandboxes, lockers, profiles -------------------------------------------


@dataclass(frozen=True)
class SandboxInfo(_Model):
    """A sandbox (``GET /v1/sandboxes/{id}``)."""

    id: str
    status: Union[SandboxStatus, str] = _conv_field(_enum(SandboxStatus), None)
    profile: str | None = None
    locker_id: str | None = None
    capabilities: list[str] = _conv_field(_str_list, [])
    created_at: datetime | None = _ts_field()
    expires_at: datetime | None = _ts_field()
    idle_expires_at: datetime | None = _ts_field()
    #: Why its compute last stopped (``user``, ``idle``, ``ttl``, ``error``); None if never.
    stop_reason: str | None = None
    #: True while its runtime is paused (the profile's ``idle_pause``): status
    #: is ``idle`` and the next call resumes it with its state intact.
    paused: bool = False


@dataclass(frozen=True)
class SandboxList(_Model):
    """One page of sandboxes; pass ``next_cursor`` as ``cursor`` until it is None."""

    items: list[SandboxInfo] = _conv_field(lambda v: [SandboxInfo.from_dict(x) for x in v], [])
    next_cursor: str | None = None


@dataclass(frozen=True)
class LockerInfo(_Model):
    """A locker: the persistent volume mounted at ``/workspace`` (upstream: cargo)."""

    id: str
    managed: bool = False
    managed_by_sandbox_id: str | None = None
    backend: str | None = None
    size_limit_mb: int | None = None
    created_at: datetime | None = _ts_field()
    last_accessed_at: datetime | None = _ts_field()


@dataclass(frozen=True)
class LockerList(_Model):
    """One page of lockers."""

    items: list[LockerInfo] = _conv_field(lambda v: [LockerInfo.from_dict(x) for x in v], [])
    next_cursor: str | None = None


@dataclass(frozen=True)
class ProfileResources(_Model):
    cpus: float | None = None
    memory: str | None = None


@dataclass(frozen=True)
class ProfileInfo(_Model):
    """A configured profile."""

    id: str
    image: str | None = None
    resources: ProfileResources | None = _conv_field(ProfileResources.from_dict)
    capabilities: list[str] = _conv_field(_str_list, [])
    idle_timeout: int | None = None
    #: Seconds idle before the runtime is paused; 0 never pauses.
    idle_pause: int | None = None
    #: ``none``, ``open`` or ``allowlist``.
    network: str | None = None


@dataclass(frozen=True)
class ProfileList(_Model):
    items: list[ProfileInfo] = _conv_field(lambda v: [ProfileInfo.from_dict(x) for x in v], [])


@dataclass(frozen=True)
class FileInfo(_Model):
    """A directory entry."""

    name: str
    #: Absolute path inside the container (``/workspace/...``).
    path: str | None = None
    is_file: bool = False
    is_dir: bool = False
    size: int | None = None
    #: Unix time in seconds.
    modified_time: float | None = None

    @property
    def modified_at(self) -> datetime | None:
        """``modified_time`` as an aware datetime (upstream's name)."""
        if self.modified_time is None:
            return None
        return datetime.fromtimestamp(self.modified_time, tz=timezone.utc)


@dataclass(frozen=True)
class UploadResult(_Model):
    status: str | None = None
    #: The normalized path written.
    path: str | None = None
    #: Bytes received.
    size: int | None = None


# -- executions -------------------------------------------------------------


@dataclass(frozen=True)
class PythonExecResult(_Model):
    """The answer of ``sandbox.python.exec``."""

    success: bool
    output: str = ""
    error: str | None = None
    #: ``{"execution_count", "output": {"text", "images"}, "kernel_restarted"}``.
    data: dict[str, Any] | None = None
    execution_id: str | None = None
    execution_time_ms: int | None = None
    #: The code, only with ``include_code=True``.
    code: str | None = None

    @property
    def execution_count(self) -> int | None:
        return (self.data or {}).get("execution_count")

    @property
    def kernel_restarted(self) -> bool:
        return bool((self.data or {}).get("kernel_restarted"))

    @property
    def images(self) -> list[dict[str, str]]:
        """Displayed images, ``[{"image/png": "<base64>"}, ...]``."""
        out = (self.data or {}).get("output") or {}
        imgs = out.get("images") if isinstance(out, dict) else None
        return list(imgs) if isinstance(imgs, list) else []


@dataclass(frozen=True)
class ShellExecResult(_Model):
    """The answer of ``sandbox.shell.exec``."""

    success: bool
    output: str = ""
    error: str | None = None
    exit_code: int | None = None
    execution_id: str | None = None
    execution_time_ms: int | None = None
    #: The command, only with ``include_code=True``.
    command: str | None = None


@dataclass(frozen=True)
class ExecutionHistoryEntry(_Model):
    """An execution record (``GET …/executions/{id}``): what ran, how it
    ended, its bounded output and annotations."""

    id: str
    sandbox_id: str | None = None
    #: ``python`` or ``shell`` (upstream: ``exec_type``).
    kind: str | None = None
    #: ``sync``, ``stream`` or ``async``.
    mode: str | None = None
    status: Union[ExecutionStatus, str] = _conv_field(_enum(ExecutionStatus), None)
    success: bool | None = None
    exit_code: int | None = None
    execution_count: int | None = None
    kernel_restarted: bool = False
    code: str = ""
    code_bytes: int | None = None
    code_truncated: bool = False
    cwd: str | None = None
    timeout: int | None = None
    output: str = ""
    output_bytes: int | None = None
    output_truncated: bool = False
    error: str | None = None
    error_truncated: bool = False
    #: Why a ``lost`` execution was lost.
    error_code: str | None = None
    #: Only on single reads: ``[{"image/png": "<base64>"}, ...]``.
    images: list[dict[str, str]] = _conv_field(list, [])
    image_count: int = 0
    images_truncated: bool = False
    description: str | None = None
    tags: list[str] = _conv_field(_str_list, [])
    notes: str | None = None
    created_at: datetime | None = _ts_field()
    finished_at: datetime | None = _ts_field()
    execution_time_ms: int | None = None

    @property
    def exec_type(self) -> str | None:
        """Upstream's name for ``kind``."""
        return self.kind

    @property
    def execution_id(self) -> str:
        return self.id

    @property
    def running(self) -> bool:
        return self.status == ExecutionStatus.RUNNING


#: Another name for :class:`ExecutionHistoryEntry`.
ExecutionRecord = ExecutionHistoryEntry


@dataclass(frozen=True)
class ExecutionHistoryList(_Model):
    """One page of execution records, newest first; pass ``next_cursor`` as
    ``cursor`` until it is None. (Upstream's ``offset``/``total`` are gone.)"""

    entries: list[ExecutionHistoryEntry] = _conv_field(
        lambda v: [ExecutionHistoryEntry.from_dict(x) for x in v], [])
    next_cursor: str | None = None

    @classmethod
    def from_dict(cls, data: Any) -> ExecutionHistoryList:
        if isinstance(data, dict) and "entries" not in data and "items" in data:
            data = {**data, "entries": data["items"]}
        return super().from_dict(data)

    @property
    def items(self) -> list[ExecutionHistoryEntry]:
        """The API's name for ``entries``."""
        return self.entries

    def __iter__(self) -> Any:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


@dataclass(frozen=True)
class CapabilitiesProfile(_Model):
    id: str | None = None
    capabilities: list[str] = _conv_field(_str_list, [])


@dataclass(frozen=True)
class SandboxCapabilities(_Model):
    """``GET /v1/sandboxes/{id}/capabilities``: what the profile allows, what
    calls can use (``effective``) and the runtime's own description."""

    sandbox_id: str | None = None
    profile: CapabilitiesProfile | None = _conv_field(CapabilitiesProfile.from_dict)
    effective: list[str] = _conv_field(_str_list, [])
    #: Free-form: ``runtime``, ``os``, ``user``, ``limits``, ``capabilities`` (with ``packages``, ``tools``)…
    runtime: dict[str, Any] = _conv_field(dict, {})


# -- stream events ----------------------------------------------------------


class StreamEvent(_Model):
    """Base of the events ``python.stream``/``shell.stream`` yield; ``event``
    is the SSE event name."""

    event: ClassVar[str] = ""


@dataclass(frozen=True)
class StartEvent(StreamEvent):
    """First event: the execution record now exists."""

    event: ClassVar[str] = "start"
    execution_id: str
    sandbox_id: str | None = None
    kind: str | None = None
    timeout: int | None = None
    created_at: datetime | None = _ts_field()


@dataclass(frozen=True)
class StdoutEvent(StreamEvent):
    event: ClassVar[str] = "stdout"
    text: str = ""


@dataclass(frozen=True)
class StderrEvent(StreamEvent):
    event: ClassVar[str] = "stderr"
    text: str = ""


@dataclass(frozen=True)
class DisplayDataEvent(StreamEvent):
    """Something the code displayed; ``data`` is a MIME bundle, or, over the
    server's event limit, ``omitted`` with ``bytes`` and ``mime_types``."""

    event: ClassVar[str] = "display_data"
    data: dict[str, Any] = _conv_field(dict, {})
    omitted: bool = False
    bytes: int | None = None
    mime_types: list[str] = _conv_field(_str_list, [])


@dataclass(frozen=True)
class ResultEvent(StreamEvent):
    """The value of the cell's last bare expression."""

    event: ClassVar[str] = "result"
    execution_count: int | None = None
    data: dict[str, Any] = _conv_field(dict, {})
    omitted: bool = False
    bytes: int | None = None
    mime_types: list[str] = _conv_field(_str_list, [])


@dataclass(frozen=True)
class ErrorEvent(StreamEvent):
    """The code raised (not a Bay failure: ``done`` follows)."""

    event: ClassVar[str] = "error"
    ename: str = ""
    evalue: str = ""
    traceback: list[str] = _conv_field(list, [])


@dataclass(frozen=True)
class DoneEvent(StreamEvent):
    """Last event: how the execution ended."""

    event: ClassVar[str] = "done"
    execution_id: str
    status: Union[ExecutionStatus, str] = _conv_field(_enum(ExecutionStatus), None)
    success: bool | None = None
    exit_code: int | None = None
    execution_count: int | None = None
    kernel_restarted: bool = False
    timed_out: bool = False
    execution_time_ms: int | None = None
    output_truncated: bool = False


#: SSE event name → class.
STREAM_EVENT_TYPES: dict[str, type[StreamEvent]] = {
    cls.event: cls
    for cls in (StartEvent, StdoutEvent, StderrEvent, DisplayDataEvent, ResultEvent, ErrorEvent, DoneEvent)
}

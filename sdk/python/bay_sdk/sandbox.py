"""The sandbox resource: lifecycle, execution history, capabilities."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Union

from . import _ops
from ._ops import UNSET
from .capabilities import (
    FilesystemCapability,
    PythonCapability,
    ShellCapability,
    SyncFilesystemCapability,
    SyncPythonCapability,
    SyncShellCapability,
)
from .types import (
    ExecutionHistoryEntry,
    ExecutionHistoryList,
    SandboxCapabilities,
    SandboxInfo,
    SandboxStatus,
)

if TYPE_CHECKING:
    from ._transport import AsyncTransport, SyncTransport

__all__ = ["Sandbox", "SyncSandbox"]

Tags = Union[Sequence[str], str, None]


class _SandboxBase:
    def __init__(self, info: SandboxInfo) -> None:
        self._info = info

    @property
    def info(self) -> SandboxInfo:
        """The sandbox as last read (``refresh()`` reads it again)."""
        return self._info

    @property
    def id(self) -> str:
        return self._info.id

    @property
    def status(self) -> SandboxStatus | str:
        """Status as last read; may be stale."""
        return self._info.status

    @property
    def profile(self) -> str | None:
        return self._info.profile

    @property
    def locker_id(self) -> str | None:
        """The locker mounted at ``/workspace`` (upstream: ``cargo_id``)."""
        return self._info.locker_id

    @property
    def capabilities(self) -> list[str]:
        return self._info.capabilities

    @property
    def created_at(self) -> datetime | None:
        return self._info.created_at

    @property
    def expires_at(self) -> datetime | None:
        """Hard TTL deadline; None: never expires."""
        return self._info.expires_at

    @property
    def idle_expires_at(self) -> datetime | None:
        return self._info.idle_expires_at

    @property
    def stop_reason(self) -> str | None:
        """Why its compute last stopped (``user``, ``idle``, ``ttl``, ``error``)."""
        return self._info.stop_reason

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, status={str(self.status)!r}, profile={self.profile!r})"


class Sandbox(_SandboxBase):
    """A sandbox of the async client (:class:`~bay_sdk.BayClient`).

    ``python``, ``shell`` and ``filesystem`` run calls in it; the runtime
    starts on the first one."""

    def __init__(self, transport: AsyncTransport, info: SandboxInfo) -> None:
        super().__init__(info)
        self._t = transport
        self.python = PythonCapability(transport, info.id)
        self.shell = ShellCapability(transport, info.id)
        self.filesystem = FilesystemCapability(transport, info.id)

    async def refresh(self) -> SandboxInfo:
        """Read the sandbox again (status, deadlines)."""
        self._info = await self._t.run(_ops.get_sandbox(self.id))
        return self._info

    async def stop(self) -> None:
        """Stop its compute; files stay, Python state is lost."""
        await self._t.run(_ops.stop_sandbox(self.id))

    async def delete(self) -> None:
        """Delete it, with its managed locker (an external locker stays)."""
        await self._t.run(_ops.delete_sandbox(self.id))

    async def extend_ttl(self, seconds: int, *, idempotency_key: str | None = None) -> SandboxInfo:
        """Push ``expires_at`` back by ``seconds`` (from now if already past)."""
        self._info = await self._t.run(_ops.extend_ttl(self.id, seconds, idempotency_key))
        return self._info

    async def keepalive(self) -> None:
        """Postpone idle reclaim (never starts compute, never changes the TTL)."""
        await self._t.run(_ops.keepalive(self.id))

    async def capabilities_info(self, *, refresh: bool = False) -> SandboxCapabilities:
        """What the profile allows, what calls can use (``effective``) and
        what the runtime contains (``runtime``: versions, packages, tools)."""
        return await self._t.run(_ops.capabilities(self.id, refresh))

    async def get_execution_history(
        self, *, kind: str | None = None, exec_type: str | None = None, success: bool | None = None,
        success_only: bool = False, tags: Tags = None, has_description: bool | None = None,
        has_notes: bool | None = None, status: str | None = None, order: str | None = None,
        since: datetime | str | None = None, until: datetime | str | None = None, limit: int | None = 100,
        cursor: str | None = None,
    ) -> ExecutionHistoryList:
        """One page of execution records, newest first (``order="asc"``:
        oldest first). Filters combine: ``kind`` (or upstream's ``exec_type``),
        ``success`` (or ``success_only=True``), ``tags`` (a list or a
        comma-separated string; records carrying all of them), ``status``,
        ``since``/``until``, ``has_description``, ``has_notes`` (applied to the
        page). ``limit`` at most 200. Pass ``next_cursor`` as ``cursor`` for the
        next page."""
        return await self._t.run(_ops.execution_history(
            self.id, kind=kind, exec_type=exec_type, success=success, success_only=success_only, tags=tags,
            has_description=has_description, has_notes=has_notes, status=status, order=order, since=since,
            until=until, limit=limit, cursor=cursor))

    async def get_execution(self, execution_id: str, *, wait: int | None = None) -> ExecutionHistoryEntry:
        """One record, with its images. ``wait`` (0-60 s) holds a running
        execution until it ends or the time passes."""
        return await self._t.run(_ops.get_execution(self._t.settings, self.id, execution_id, wait))

    async def get_last_execution(self, *, kind: str | None = None,
                                 exec_type: str | None = None) -> ExecutionHistoryEntry:
        """The newest record (of ``kind``); NotFoundError if there is none."""
        return await self._t.run(_ops.get_last_execution(self.id, kind, exec_type))

    async def annotate_execution(self, execution_id: str, *, description: str | None = UNSET,
                                 tags: Tags = UNSET, notes: str | None = UNSET) -> ExecutionHistoryEntry:
        """Set the record's annotations: an argument left out stays as it is,
        ``None`` clears it."""
        return await self._t.run(_ops.annotate_execution(self.id, execution_id, description, tags, notes))


class SyncSandbox(_SandboxBase):
    """A sandbox of the blocking client (:class:`~bay_sdk.SyncBayClient`)."""

    def __init__(self, transport: SyncTransport, info: SandboxInfo) -> None:
        super().__init__(info)
        self._t = transport
        self.python = SyncPythonCapability(transport, info.id)
        self.shell = SyncShellCapability(transport, info.id)
        self.filesystem = SyncFilesystemCapability(transport, info.id)

    def refresh(self) -> SandboxInfo:
        """Read the sandbox again (status, deadlines)."""
        self._info = self._t.run(_ops.get_sandbox(self.id))
        return self._info

    def stop(self) -> None:
        """Stop its compute; files stay, Python state is lost."""
        self._t.run(_ops.stop_sandbox(self.id))

    def delete(self) -> None:
        """Delete it, with its managed locker (an external locker stays)."""
        self._t.run(_ops.delete_sandbox(self.id))

    def extend_ttl(self, seconds: int, *, idempotency_key: str | None = None) -> SandboxInfo:
        """Push ``expires_at`` back by ``seconds`` (from now if already past)."""
        self._info = self._t.run(_ops.extend_ttl(self.id, seconds, idempotency_key))
        return self._info

    def keepalive(self) -> None:
        """Postpone idle reclaim (never starts compute, never changes the TTL)."""
        self._t.run(_ops.keepalive(self.id))

    def capabilities_info(self, *, refresh: bool = False) -> SandboxCapabilities:
        """What the profile allows, what calls can use (``effective``) and
        what the runtime contains (``runtime``: versions, packages, tools)."""
        return self._t.run(_ops.capabilities(self.id, refresh))

    def get_execution_history(
        self, *, kind: str | None = None, exec_type: str | None = None, success: bool | None = None,
        success_only: bool = False, tags: Tags = None, has_description: bool | None = None,
        has_notes: bool | None = None, status: str | None = None, order: str | None = None,
        since: datetime | str | None = None, until: datetime | str | None = None, limit: int | None = 100,
        cursor: str | None = None,
    ) -> ExecutionHistoryList:
        """One page of execution records; see
        :meth:`Sandbox.get_execution_history`."""
        return self._t.run(_ops.execution_history(
            self.id, kind=kind, exec_type=exec_type, success=success, success_only=success_only, tags=tags,
            has_description=has_description, has_notes=has_notes, status=status, order=order, since=since,
            until=until, limit=limit, cursor=cursor))

    def get_execution(self, execution_id: str, *, wait: int | None = None) -> ExecutionHistoryEntry:
        """One record, with its images. ``wait`` (0-60 s) holds a running
        execution until it ends or the time passes."""
        return self._t.run(_ops.get_execution(self._t.settings, self.id, execution_id, wait))

    def get_last_execution(self, *, kind: str | None = None, exec_type: str | None = None) -> ExecutionHistoryEntry:
        """The newest record (of ``kind``); NotFoundError if there is none."""
        return self._t.run(_ops.get_last_execution(self.id, kind, exec_type))

    def annotate_execution(self, execution_id: str, *, description: str | None = UNSET, tags: Tags = UNSET,
                           notes: str | None = UNSET) -> ExecutionHistoryEntry:
        """Set the record's annotations: an argument left out stays as it is,
        ``None`` clears it."""
        return self._t.run(_ops.annotate_execution(self.id, execution_id, description, tags, notes))

"""Handles on submitted executions (``python.submit``/``shell.submit``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _ops
from .types import ExecutionHistoryEntry, ExecutionStatus

if TYPE_CHECKING:
    from ._transport import AsyncTransport, SyncTransport

__all__ = ["Execution", "SyncExecution"]


class _ExecutionBase:
    def __init__(self, record: ExecutionHistoryEntry) -> None:
        self._record = record

    @property
    def id(self) -> str:
        """The execution id (``exec-`` + 12 hex)."""
        return self._record.id

    @property
    def execution_id(self) -> str:
        return self._record.id

    @property
    def sandbox_id(self) -> str:
        return self._record.sandbox_id or ""

    @property
    def kind(self) -> str | None:
        return self._record.kind

    @property
    def record(self) -> ExecutionHistoryEntry:
        """The record as last read (``refresh``/``wait`` update it)."""
        return self._record

    @property
    def status(self) -> ExecutionStatus | str:
        return self._record.status

    @property
    def done(self) -> bool:
        """No longer ``running`` (as last read)."""
        return self._record.status != ExecutionStatus.RUNNING

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, sandbox_id={self.sandbox_id!r}, status={str(self.status)!r})"


class Execution(_ExecutionBase):
    """A running (or ended) execution of the async client.

    ``await job.wait()`` polls with ``?wait=`` (at most 60 s a request) until
    the execution is no longer ``running`` and returns its record;
    ``await job.cancel()`` asks Bay to stop it."""

    def __init__(self, transport: AsyncTransport, record: ExecutionHistoryEntry) -> None:
        super().__init__(record)
        self._t = transport

    async def refresh(self) -> ExecutionHistoryEntry:
        """Read the record again."""
        self._record = await self._t.run(_ops.get_execution(self._t.settings, self.sandbox_id, self.id, None))
        return self._record

    async def wait(self, timeout: float | None = None) -> ExecutionHistoryEntry:
        """Wait until the execution ends (or ``timeout`` seconds pass: then the
        record is returned still ``running``; check ``status``)."""
        clock = _ops.WaitClock(timeout)
        while self._record.status == ExecutionStatus.RUNNING:
            wait = clock.next_wait()
            if wait is None:
                break
            self._record = await self._t.run(_ops.get_execution(self._t.settings, self.sandbox_id, self.id, wait))
        return self._record

    async def cancel(self) -> ExecutionHistoryEntry:
        """Ask Bay to stop it; the record turns ``cancelled`` when the runtime
        confirms (``wait()`` for it). ConflictError if it is no longer running."""
        self._record = await self._t.run(_ops.cancel_execution(self.sandbox_id, self.id))
        return self._record


class SyncExecution(_ExecutionBase):
    """The blocking twin of :class:`Execution`."""

    def __init__(self, transport: SyncTransport, record: ExecutionHistoryEntry) -> None:
        super().__init__(record)
        self._t = transport

    def refresh(self) -> ExecutionHistoryEntry:
        """Read the record again."""
        self._record = self._t.run(_ops.get_execution(self._t.settings, self.sandbox_id, self.id, None))
        return self._record

    def wait(self, timeout: float | None = None) -> ExecutionHistoryEntry:
        """Wait until the execution ends (or ``timeout`` seconds pass: then the
        record is returned still ``running``; check ``status``)."""
        clock = _ops.WaitClock(timeout)
        while self._record.status == ExecutionStatus.RUNNING:
            wait = clock.next_wait()
            if wait is None:
                break
            self._record = self._t.run(_ops.get_execution(self._t.settings, self.sandbox_id, self.id, wait))
        return self._record

    def cancel(self) -> ExecutionHistoryEntry:
        """Ask Bay to stop it; the record turns ``cancelled`` when the runtime
        confirms (``wait()`` for it). ConflictError if it is no longer running."""
        self._record = self._t.run(_ops.cancel_execution(self.sandbox_id, self.id))
        return self._record

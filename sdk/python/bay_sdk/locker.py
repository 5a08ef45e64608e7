"""``client.lockers``: external lockers, volumes that outlive sandboxes
(upstream: ``client.cargos``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _ops
from .types import LockerInfo, LockerList

if TYPE_CHECKING:
    from ._transport import AsyncTransport, SyncTransport

__all__ = ["LockerManager", "SyncLockerManager"]


class LockerManager:
    """Lockers, async (upstream: ``CargoManager``)."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    async def create(self, size_limit_mb: int | None = None, *, idempotency_key: str | None = None) -> LockerInfo:
        """Create an external locker; attach it with
        ``create_sandbox(locker_id=...)``."""
        return await self._t.run(_ops.create_locker(size_limit_mb, idempotency_key))

    async def get(self, locker_id: str) -> LockerInfo:
        return await self._t.run(_ops.get_locker(locker_id))

    async def list(self, *, limit: int | None = 50, cursor: str | None = None,
                   managed: bool | None = None) -> LockerList:
        """One page of lockers: external ones, or with ``managed=True`` the
        ones created for a sandbox."""
        return await self._t.run(_ops.list_lockers(limit, cursor, managed))

    async def delete(self, locker_id: str) -> None:
        """Delete a locker (ConflictError while a sandbox uses it)."""
        await self._t.run(_ops.delete_locker(locker_id))

    async def read_file(self, locker_id: str, path: str) -> str:
        """Read a text file straight from the volume, without a sandbox."""
        return await self._t.run(_ops.read_locker_file(locker_id, path))

    async def write_file(self, locker_id: str, path: str, content: str) -> None:
        """Write a text file straight into the volume (parents created)."""
        await self._t.run(_ops.write_locker_file(locker_id, path, content))


class SyncLockerManager:
    """Lockers, blocking."""

    def __init__(self, transport: SyncTransport) -> None:
        self._t = transport

    def create(self, size_limit_mb: int | None = None, *, idempotency_key: str | None = None) -> LockerInfo:
        """Create an external locker; attach it with
        ``create_sandbox(locker_id=...)``."""
        return self._t.run(_ops.create_locker(size_limit_mb, idempotency_key))

    def get(self, locker_id: str) -> LockerInfo:
        return self._t.run(_ops.get_locker(locker_id))

    def list(self, *, limit: int | None = 50, cursor: str | None = None, managed: bool | None = None) -> LockerList:
        """One page of lockers: external ones, or with ``managed=True`` the
        ones created for a sandbox."""
        return self._t.run(_ops.list_lockers(limit, cursor, managed))

    def delete(self, locker_id: str) -> None:
        """Delete a locker (ConflictError while a sandbox uses it)."""
        self._t.run(_ops.delete_locker(locker_id))

    def read_file(self, locker_id: str, path: str) -> str:
        """Read a text file straight from the volume, without a sandbox."""
        return self._t.run(_ops.read_locker_file(locker_id, path))

    def write_file(self, locker_id: str, path: str, content: str) -> None:
        """Write a text file straight into the volume (parents created)."""
        self._t.run(_ops.write_locker_file(locker_id, path, content))

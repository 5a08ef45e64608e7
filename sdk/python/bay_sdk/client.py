"""The clients: :class:`BayClient` (async) and :class:`SyncBayClient`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from types import TracebackType
from typing import Any

from . import _ops
from ._core import Settings, resolve_settings
from ._transport import AsyncTransport, SyncTransport
from .locker import LockerManager, SyncLockerManager
from .sandbox import Sandbox, SyncSandbox
from .types import ProfileList, SandboxList, SandboxStatus

__all__ = ["BayClient", "SyncBayClient"]

_DOC_ARGS = """
    Args:
        endpoint_url: Bay's base URL; else ``BAY_URL`` (or ``BAY_ENDPOINT``).
        access_token: API key, sent as ``Authorization: Bearer``; else
            ``BAY_API_KEY`` (or ``BAY_TOKEN``); none: anonymous.
        owner: sent as ``X-Owner`` (anonymous mode only: Bay ignores it next
            to an API key).
        timeout: seconds per request (default 30, or ``BAY_TIMEOUT``). Exec
            calls wait their ``timeout`` on top of it; streams wait
            ``max(60, 4 × stream_heartbeat)`` between events.
        max_retries: retries of a failed call where safe (default 3, or
            ``BAY_MAX_RETRIES``).
        stream_heartbeat: the server's ``exec.stream_heartbeat_seconds``
            (default 15).
"""


class _ClientBase:
    def __init__(self, endpoint_url: str | None, access_token: str | None, owner: str | None,
                 timeout: float | None, max_retries: int | None, stream_heartbeat: float | None) -> None:
        self._settings = resolve_settings(endpoint_url, access_token, owner, timeout, max_retries, stream_heartbeat)

    @property
    def settings(self) -> Settings:
        """The resolved configuration."""
        return self._settings

    @property
    def endpoint_url(self) -> str:
        return self._settings.base_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(endpoint_url={self._settings.base_url!r})"


class BayClient(_ClientBase):
    """The async client. Use it as ``async with BayClient(...) as client:``
    (or call ``await client.aclose()`` when done).
    """

    __doc__ = (__doc__ or "") + _DOC_ARGS

    def __init__(self, endpoint_url: str | None = None, access_token: str | None = None, *,
                 owner: str | None = None, timeout: float | None = None, max_retries: int | None = None,
                 stream_heartbeat: float | None = None) -> None:
        super().__init__(endpoint_url, access_token, owner, timeout, max_retries, stream_heartbeat)
        self._t = AsyncTransport(self._settings)
        #: External lockers (upstream: ``cargos``).
        self.lockers = LockerManager(self._t)

    async def __aenter__(self) -> BayClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self._t.close()

    async def create_sandbox(self, *, profile: str | None = None, locker_id: str | None = None,
                             ttl: int | None = None, idempotency_key: str | None = None) -> Sandbox:
        """Create a sandbox of ``profile`` (Bay's default: ``python-default``),
        on the external locker ``locker_id`` or a new managed one, expiring
        after ``ttl`` seconds (None or 0: never). Retried safely: an
        Idempotency-Key is generated unless given."""
        return Sandbox(self._t, await self._t.run(_ops.create_sandbox(profile, locker_id, ttl, idempotency_key)))

    async def get_sandbox(self, sandbox_id: str) -> Sandbox:
        """An existing sandbox (NotFoundError if unknown or deleted)."""
        return Sandbox(self._t, await self._t.run(_ops.get_sandbox(sandbox_id)))

    async def list_sandboxes(self, *, limit: int | None = 50, cursor: str | None = None,
                             status: SandboxStatus | str | None = None) -> SandboxList:
        """One page of sandboxes (``next_cursor`` for the next one)."""
        return await self._t.run(_ops.list_sandboxes(limit, cursor, status))

    async def iter_sandboxes(self, *, status: SandboxStatus | str | None = None,
                             page_size: int = 100) -> AsyncIterator[Sandbox]:
        """Every sandbox, page after page (``async for``)."""
        cursor: str | None = None
        while True:
            page = await self.list_sandboxes(limit=page_size, cursor=cursor, status=status)
            for info in page.items:
                yield Sandbox(self._t, info)
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def list_profiles(self) -> ProfileList:
        """The configured profiles."""
        return await self._t.run(_ops.list_profiles())

    async def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                      json: Any = None, headers: Mapping[str, str] | None = None,
                      idempotency_key: str | None = None) -> Any:
        """Any endpoint without a method here (``/v1/admin/gc/run``…): the
        decoded JSON answer (None when empty), errors raised as for the rest.
        Retried like the wrapped calls: GET/PUT/DELETE, or with an
        ``idempotency_key``; other calls on connection refused only."""
        return await self._t.run(_ops.raw(method, path, params, json, headers, idempotency_key))


class SyncBayClient(_ClientBase):
    """The blocking client: :class:`BayClient` without ``await``. Use it as
    ``with SyncBayClient(...) as client:`` (or call ``client.close()``).
    """

    __doc__ = (__doc__ or "") + _DOC_ARGS

    def __init__(self, endpoint_url: str | None = None, access_token: str | None = None, *,
                 owner: str | None = None, timeout: float | None = None, max_retries: int | None = None,
                 stream_heartbeat: float | None = None) -> None:
        super().__init__(endpoint_url, access_token, owner, timeout, max_retries, stream_heartbeat)
        self._t = SyncTransport(self._settings)
        #: External lockers (upstream: ``cargos``).
        self.lockers = SyncLockerManager(self._t)

    def __enter__(self) -> SyncBayClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._t.close()

    def create_sandbox(self, *, profile: str | None = None, locker_id: str | None = None, ttl: int | None = None,
                       idempotency_key: str | None = None) -> SyncSandbox:
        """Create a sandbox; see :meth:`BayClient.create_sandbox`."""
        return SyncSandbox(self._t, self._t.run(_ops.create_sandbox(profile, locker_id, ttl, idempotency_key)))

    def get_sandbox(self, sandbox_id: str) -> SyncSandbox:
        """An existing sandbox (NotFoundError if unknown or deleted)."""
        return SyncSandbox(self._t, self._t.run(_ops.get_sandbox(sandbox_id)))

    def list_sandboxes(self, *, limit: int | None = 50, cursor: str | None = None,
                       status: SandboxStatus | str | None = None) -> SandboxList:
        """One page of sandboxes (``next_cursor`` for the next one)."""
        return self._t.run(_ops.list_sandboxes(limit, cursor, status))

    def iter_sandboxes(self, *, status: SandboxStatus | str | None = None,
                       page_size: int = 100) -> Iterator[SyncSandbox]:
        """Every sandbox, page after page."""
        cursor: str | None = None
        while True:
            page = self.list_sandboxes(limit=page_size, cursor=cursor, status=status)
            for info in page.items:
                yield SyncSandbox(self._t, info)
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def list_profiles(self) -> ProfileList:
        """The configured profiles."""
        return self._t.run(_ops.list_profiles())

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None,
                headers: Mapping[str, str] | None = None, idempotency_key: str | None = None) -> Any:
        """Any endpoint without a method here; see :meth:`BayClient.request`."""
        return self._t.run(_ops.raw(method, path, params, json, headers, idempotency_key))

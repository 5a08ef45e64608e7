"""``sandbox.python``, ``sandbox.shell`` and ``sandbox.filesystem``."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import httpx

from . import _ops
from ._core import Call, UploadSource, connection_error
from .execution import Execution, SyncExecution
from .types import FileInfo, PythonExecResult, ShellExecResult, StreamEvent, UploadResult

if TYPE_CHECKING:
    from ._transport import AsyncTransport, SyncTransport

__all__ = [
    "PythonCapability",
    "ShellCapability",
    "FilesystemCapability",
    "SyncPythonCapability",
    "SyncShellCapability",
    "SyncFilesystemCapability",
]

Tags = Union[Sequence[str], str, None]


# -- the I/O loops of streams and downloads, once per transport -------------------


async def _astream(t: AsyncTransport, call: Call[Any]) -> AsyncIterator[StreamEvent]:
    resp = await t.open(call)
    assert resp is not None
    dec = _ops.StreamDecoder(call)
    try:
        try:
            async for chunk in resp.aiter_bytes():
                for ev in dec.feed(chunk):
                    yield ev
                dec.check()
                if dec.done:
                    return
            for ev in dec.end():
                yield ev
            dec.check()
        except httpx.TransportError as exc:
            raise dec.broken(exc) from exc
    finally:
        await resp.aclose()


def _stream(t: SyncTransport, call: Call[Any]) -> Iterator[StreamEvent]:
    resp = t.open(call)
    assert resp is not None
    dec = _ops.StreamDecoder(call)
    try:
        try:
            for chunk in resp.iter_bytes():
                for ev in dec.feed(chunk):
                    yield ev
                dec.check()
                if dec.done:
                    return
            for ev in dec.end():
                yield ev
            dec.check()
        except httpx.TransportError as exc:
            raise dec.broken(exc) from exc
    finally:
        resp.close()


# -- python ------------------------------------------------------------------------


class _Cap:
    def __init__(self, transport: Any, sandbox_id: str) -> None:
        self._t = transport
        self._sandbox_id = sandbox_id


class PythonCapability(_Cap):
    """Python in the sandbox's persistent IPython kernel (async)."""

    _t: AsyncTransport

    async def exec(self, code: str, *, timeout: int = 30, include_code: bool = False,
                   description: str | None = None, tags: Tags = None) -> PythonExecResult:
        """Run code and return its result (``success`` is False when it
        raised). ``tags``: a list, or a comma-separated string as upstream."""
        return await self._t.run(_ops.exec_sync(self._t.settings, self._sandbox_id, "python", code, None, timeout,
                                                include_code, description, tags))

    def stream(self, code: str, *, timeout: int = 30, description: str | None = None, tags: Tags = None,
               include_code: bool = False) -> AsyncIterator[StreamEvent]:
        """Run code, yielding its events as they come (``async for``):
        StartEvent, then StdoutEvent/StderrEvent/DisplayDataEvent/ResultEvent/
        ErrorEvent, then DoneEvent. ``timeout`` up to 3600 s. A ``fault`` raises
        the mapped BayError with ``execution_id``."""
        call = _ops.exec_stream(self._t.settings, self._sandbox_id, "python", code, None, timeout, include_code,
                                description, tags)
        return _astream(self._t, call)

    async def submit(self, code: str, *, timeout: int = 30, description: str | None = None, tags: Tags = None,
                     idempotency_key: str | None = None) -> Execution:
        """Start code in the background (``timeout`` up to 3600 s) and return
        its handle: ``await job.wait()``, ``await job.cancel()``."""
        rec = await self._t.run(_ops.exec_async(self._sandbox_id, "python", code, None, timeout, description, tags,
                                                idempotency_key))
        return Execution(self._t, rec)


class SyncPythonCapability(_Cap):
    """Python in the sandbox's persistent IPython kernel (blocking)."""

    _t: SyncTransport

    def exec(self, code: str, *, timeout: int = 30, include_code: bool = False,
             description: str | None = None, tags: Tags = None) -> PythonExecResult:
        """Run code and return its result (``success`` is False when it
        raised). ``tags``: a list, or a comma-separated string as upstream."""
        return self._t.run(_ops.exec_sync(self._t.settings, self._sandbox_id, "python", code, None, timeout,
                                          include_code, description, tags))

    def stream(self, code: str, *, timeout: int = 30, description: str | None = None, tags: Tags = None,
               include_code: bool = False) -> Iterator[StreamEvent]:
        """Run code, yielding its events as they come: StartEvent, then
        StdoutEvent/StderrEvent/DisplayDataEvent/ResultEvent/ErrorEvent, then
        DoneEvent. ``timeout`` up to 3600 s. A ``fault`` raises the mapped
        BayError with ``execution_id``."""
        call = _ops.exec_stream(self._t.settings, self._sandbox_id, "python", code, None, timeout, include_code,
                                description, tags)
        return _stream(self._t, call)

    def submit(self, code: str, *, timeout: int = 30, description: str | None = None, tags: Tags = None,
               idempotency_key: str | None = None) -> SyncExecution:
        """Start code in the background (``timeout`` up to 3600 s) and return
        its handle: ``job.wait()``, ``job.cancel()``."""
        rec = self._t.run(_ops.exec_async(self._sandbox_id, "python", code, None, timeout, description, tags,
                                          idempotency_key))
        return SyncExecution(self._t, rec)


# -- shell ---------------------------------------------------------------------------


class ShellCapability(_Cap):
    """Shell commands (``bash -lc``) in the sandbox (async)."""

    _t: AsyncTransport

    async def exec(self, command: str, *, cwd: str | None = None, timeout: int = 30, include_code: bool = False,
                   description: str | None = None, tags: Tags = None) -> ShellExecResult:
        """Run a command; ``cwd`` is relative to the workspace."""
        return await self._t.run(_ops.exec_sync(self._t.settings, self._sandbox_id, "shell", command, cwd, timeout,
                                                include_code, description, tags))

    def stream(self, command: str, *, cwd: str | None = None, timeout: int = 30, description: str | None = None,
               tags: Tags = None, include_code: bool = False) -> AsyncIterator[StreamEvent]:
        """Run a command, yielding StartEvent, StdoutEvent/StderrEvent chunks
        and DoneEvent (``async for``)."""
        call = _ops.exec_stream(self._t.settings, self._sandbox_id, "shell", command, cwd, timeout, include_code,
                                description, tags)
        return _astream(self._t, call)

    async def submit(self, command: str, *, cwd: str | None = None, timeout: int = 30,
                     description: str | None = None, tags: Tags = None,
                     idempotency_key: str | None = None) -> Execution:
        """Start a command in the background and return its handle."""
        rec = await self._t.run(_ops.exec_async(self._sandbox_id, "shell", command, cwd, timeout, description, tags,
                                                idempotency_key))
        return Execution(self._t, rec)


class SyncShellCapability(_Cap):
    """Shell commands (``bash -lc``) in the sandbox (blocking)."""

    _t: SyncTransport

    def exec(self, command: str, *, cwd: str | None = None, timeout: int = 30, include_code: bool = False,
             description: str | None = None, tags: Tags = None) -> ShellExecResult:
        """Run a command; ``cwd`` is relative to the workspace."""
        return self._t.run(_ops.exec_sync(self._t.settings, self._sandbox_id, "shell", command, cwd, timeout,
                                          include_code, description, tags))

    def stream(self, command: str, *, cwd: str | None = None, timeout: int = 30, description: str | None = None,
               tags: Tags = None, include_code: bool = False) -> Iterator[StreamEvent]:
        """Run a command, yielding StartEvent, StdoutEvent/StderrEvent chunks
        and DoneEvent."""
        call = _ops.exec_stream(self._t.settings, self._sandbox_id, "shell", command, cwd, timeout, include_code,
                                description, tags)
        return _stream(self._t, call)

    def submit(self, command: str, *, cwd: str | None = None, timeout: int = 30, description: str | None = None,
               tags: Tags = None, idempotency_key: str | None = None) -> SyncExecution:
        """Start a command in the background and return its handle."""
        rec = self._t.run(_ops.exec_async(self._sandbox_id, "shell", command, cwd, timeout, description, tags,
                                          idempotency_key))
        return SyncExecution(self._t, rec)


# -- filesystem ----------------------------------------------------------------------


class FilesystemCapability(_Cap):
    """Files under the sandbox's workspace (async). Paths are relative to it."""

    _t: AsyncTransport

    async def read_file(self, path: str) -> str:
        """A whole text (UTF-8) file."""
        return await self._t.run(_ops.read_file(self._sandbox_id, path))

    async def write_file(self, path: str, content: str) -> None:
        """Write a text file (parents created, existing file overwritten)."""
        await self._t.run(_ops.write_file(self._sandbox_id, path, content))

    async def list_dir(self, path: str = ".") -> list[FileInfo]:
        """A directory's entries (directories first; dot files left out)."""
        return await self._t.run(_ops.list_dir(self._sandbox_id, path))

    async def delete(self, path: str) -> None:
        """Delete a file, or a directory with its content."""
        await self._t.run(_ops.delete_file(self._sandbox_id, path))

    async def upload(self, path: str, content: UploadSource) -> UploadResult:
        """Upload ``content`` (bytes, a local file path, or a binary file
        object, streamed) to ``path``."""
        return await self._t.run(_ops.upload(self._sandbox_id, path, content))

    async def download(self, path: str) -> bytes:
        """A file's bytes."""
        call = _ops.download(self._sandbox_id, path)
        resp = await self._t.open(call)
        assert resp is not None
        try:
            return await resp.aread()
        except httpx.TransportError as exc:
            raise connection_error(call, exc) from exc
        finally:
            await resp.aclose()

    async def download_to(self, path: str, dest: str | os.PathLike[str]) -> Path:
        """Stream a file into ``dest`` (through a temporary file beside it,
        renamed when complete); returns ``dest``."""
        call = _ops.download(self._sandbox_id, path)
        resp = await self._t.open(call)
        assert resp is not None
        try:
            target = _ops.TempTarget(dest)
            try:
                async for chunk in resp.aiter_bytes():
                    target.write(chunk)
            except httpx.TransportError as exc:
                target.abort()
                raise connection_error(call, exc) from exc
            except BaseException:
                target.abort()
                raise
            return target.commit()
        finally:
            await resp.aclose()


class SyncFilesystemCapability(_Cap):
    """Files under the sandbox's workspace (blocking). Paths are relative to it."""

    _t: SyncTransport

    def read_file(self, path: str) -> str:
        """A whole text (UTF-8) file."""
        return self._t.run(_ops.read_file(self._sandbox_id, path))

    def write_file(self, path: str, content: str) -> None:
        """Write a text file (parents created, existing file overwritten)."""
        self._t.run(_ops.write_file(self._sandbox_id, path, content))

    def list_dir(self, path: str = ".") -> list[FileInfo]:
        """A directory's entries (directories first; dot files left out)."""
        return self._t.run(_ops.list_dir(self._sandbox_id, path))

    def delete(self, path: str) -> None:
        """Delete a file, or a directory with its content."""
        self._t.run(_ops.delete_file(self._sandbox_id, path))

    def upload(self, path: str, content: UploadSource) -> UploadResult:
        """Upload ``content`` (bytes, a local file path, or a binary file
        object, streamed) to ``path``."""
        return self._t.run(_ops.upload(self._sandbox_id, path, content))

    def download(self, path: str) -> bytes:
        """A file's bytes."""
        call = _ops.download(self._sandbox_id, path)
        resp = self._t.open(call)
        assert resp is not None
        try:
            return resp.read()
        except httpx.TransportError as exc:
            raise connection_error(call, exc) from exc
        finally:
            resp.close()

    def download_to(self, path: str, dest: str | os.PathLike[str]) -> Path:
        """Stream a file into ``dest`` (through a temporary file beside it,
        renamed when complete); returns ``dest``."""
        call = _ops.download(self._sandbox_id, path)
        resp = self._t.open(call)
        assert resp is not None
        try:
            target = _ops.TempTarget(dest)
            try:
                for chunk in resp.iter_bytes():
                    target.write(chunk)
            except httpx.TransportError as exc:
                target.abort()
                raise connection_error(call, exc) from exc
            except BaseException:
                target.abort()
                raise
            return target.commit()
        finally:
            resp.close()

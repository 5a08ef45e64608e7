"""The two transports: send a :class:`~bay_sdk._core.Call` with httpx,
blocking or async, retrying as :class:`~bay_sdk._core.RetryState` decides.
They differ only in ``await``; every decision is in ``_core``."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, TypeVar

import httpx

from ._core import DONE, NO_BODY, Answer, Call, RetryState, Settings, clean_params, connection_error
from .errors import BayError

T = TypeVar("T")

_NO_CONTENT = Answer(204, {}, b"")


def _timeout(s: Settings, call: Call[Any]) -> httpx.Timeout:
    return httpx.Timeout(s.timeout, read=call.read_timeout if call.read_timeout is not None else s.timeout)


def _json_content(call: Call[Any], headers: dict[str, str]) -> bytes | None:
    if call.json is NO_BODY:
        return None
    headers.setdefault("Content-Type", "application/json")
    return json.dumps(call.json, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _parse(call: Call[T], answer: Answer) -> T:
    try:
        return call.parse(answer)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        snippet = answer.content[:500].decode("utf-8", "replace")
        raise BayError("invalid_response", f"Unusable answer to {call.method} {call.path}: {exc}",
                       {"body": snippet}, answer.headers.get("x-request-id"), answer.status) from exc


def _client_kwargs(s: Settings) -> dict[str, Any]:
    return {"base_url": s.base_url, "headers": s.headers(), "timeout": httpx.Timeout(s.timeout),
            "follow_redirects": False}


class SyncTransport:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.http = httpx.Client(**_client_kwargs(settings))

    def close(self) -> None:
        self.http.close()

    def _request(self, call: Call[Any]) -> httpx.Request:
        headers = dict(call.headers)
        content: Any = _json_content(call, headers)
        if call.body is not None:
            headers.update(call.body.headers())
            content = call.body.chunks()
        return self.http.build_request(call.method, call.path, params=clean_params(call.params), content=content,
                                       headers=headers, timeout=_timeout(self.settings, call))

    def open(self, call: Call[Any]) -> httpx.Response | None:
        """Send call (with retries); the streaming answer (2xx/3xx, to be
        closed by the caller), or None for a DELETE that turned out done."""
        state = RetryState(call, self.settings.max_retries)
        while True:
            try:
                resp = self.http.send(self._request(call), stream=True)
            except httpx.TransportError as exc:
                time.sleep(state.after_exception(exc))
                continue
            if resp.status_code < 400:
                return resp
            try:
                body = resp.read()
            except httpx.TransportError:
                body = b""
            finally:
                resp.close()
            outcome = state.after_status(resp.status_code, resp.headers, body)
            if outcome is DONE:
                return None
            time.sleep(outcome)

    def run(self, call: Call[T]) -> T:
        resp = self.open(call)
        if resp is None:
            return _parse(call, _NO_CONTENT)
        try:
            content = resp.read()
        except httpx.TransportError as exc:
            raise connection_error(call, exc) from exc
        finally:
            resp.close()
        return _parse(call, Answer(resp.status_code, resp.headers, content))


class AsyncTransport:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.http = httpx.AsyncClient(**_client_kwargs(settings))

    async def close(self) -> None:
        await self.http.aclose()

    def _request(self, call: Call[Any]) -> httpx.Request:
        headers = dict(call.headers)
        content: Any = _json_content(call, headers)
        if call.body is not None:
            headers.update(call.body.headers())
            content = call.body.achunks()
        return self.http.build_request(call.method, call.path, params=clean_params(call.params), content=content,
                                       headers=headers, timeout=_timeout(self.settings, call))

    async def open(self, call: Call[Any]) -> httpx.Response | None:
        state = RetryState(call, self.settings.max_retries)
        while True:
            try:
                resp = await self.http.send(self._request(call), stream=True)
            except httpx.TransportError as exc:
                await asyncio.sleep(state.after_exception(exc))
                continue
            if resp.status_code < 400:
                return resp
            try:
                body = await resp.aread()
            except httpx.TransportError:
                body = b""
            finally:
                await resp.aclose()
            outcome = state.after_status(resp.status_code, resp.headers, body)
            if outcome is DONE:
                return None
            await asyncio.sleep(outcome)

    async def run(self, call: Call[T]) -> T:
        resp = await self.open(call)
        if resp is None:
            return _parse(call, _NO_CONTENT)
        try:
            content = await resp.aread()
        except httpx.TransportError as exc:
            raise connection_error(call, exc) from exc
        finally:
            await resp.aclose()
        return _parse(call, Answer(resp.status_code, resp.headers, content))


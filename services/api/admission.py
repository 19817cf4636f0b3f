"""Admission: a bounded number of requests in progress per worker; the rest answered 503 at once.

Without a bound every request waits in one queue, and under overload all of them wait long
(each a worker's connection, memory, a client holding on). With one, a worker works on at most
`limit` requests at a time (`HAVEN_MAX_IN_FLIGHT`, by default its pool's size: a request beyond
that would only wait for a connection). A request that finds every place taken waits up to
`wait` seconds (`HAVEN_ADMISSION_WAIT`) for one, then is answered 503 `overloaded` with
`Retry-After`, before anything of it is read or done, so shedding it costs next to nothing.
The operational routes (`/health`, `/ready`, `/metrics`) are never held: an orchestrator's
probe must not wait behind case work, nor fail because of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from services.api.problems import RETRY_AFTER_SECONDS, problem, problem_response_body

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]

UNHELD_PATHS = frozenset({"/health", "/ready", "/metrics"})

_HEADERS = [
    (b"content-type", b"application/problem+json"),
    (b"retry-after", str(RETRY_AFTER_SECONDS).encode("ascii")),
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
]


class Admission:
    """At most `limit` requests in progress; one that cannot get a place within `wait` seconds
    is answered 503 `overloaded`."""

    def __init__(self, limit: int, wait: float) -> None:
        if limit < 1:
            raise ValueError("the admission limit must be at least 1")
        self.limit = limit
        self.wait = wait
        self._places = asyncio.Semaphore(limit)
        self._body = problem_response_body(problem("overloaded"))

    @property
    def in_progress(self) -> int:
        return self.limit - self._places._value  # noqa: SLF001 (asyncio exposes no count)

    async def __call__(self, app: ASGIApp, scope: Scope, receive: Any, send: Any) -> None:
        if scope["path"] in UNHELD_PATHS:
            await app(scope, receive, send)
            return
        if not await self._enter():
            await self._shed(send)
            return
        try:
            await app(scope, receive, send)
        finally:
            self._places.release()

    async def _enter(self) -> bool:
        if not self._places.locked():
            await self._places.acquire()  # a free place: taken without yielding
            return True
        if self.wait <= 0:
            return False
        try:
            async with asyncio.timeout(self.wait):
                await self._places.acquire()
        except TimeoutError:
            return False
        return True

    async def _shed(self, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [*_HEADERS, (b"content-length", str(len(self._body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": self._body})

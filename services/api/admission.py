"""Admission: a bounded number of requests in progress per worker; the rest answered 503 at once.

Without a bound every request waits in one queue, and under overload all of them wait long
(each a worker's connection, memory, a client holding on). With one, a worker works on at most
`limit` requests at a time (`HAVEN_MAX_IN_FLIGHT`, by default its pool's size: a request beyond
that would only wait for a connection). A request that finds every place taken waits up to
`wait` seconds (`HAVEN_ADMISSION_WAIT`) for one, then is answered 503 `overloaded` with
`Retry-After`, before anything of it is read or done, so shedding it costs next to nothing.
A freed place goes to the newest waiter (see `Admission`), so under overload an admitted
request's latency stays near its service time instead of growing by the wait.
The operational routes (`/health`, `/ready`, `/metrics`) are never held: an orchestrator's
probe must not wait behind case work, nor fail because of it.
"""

from __future__ import annotations

import asyncio
import collections
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
    is answered 503 `overloaded`.

    A freed place goes to the request that has waited longest, unless more requests wait than
    there are places: then the server is overloaded (they cannot all be served within one
    service time) and the place goes to the one that has waited least. Under sustained
    overload first in, first out would admit only requests that had already waited nearly
    `wait`, adding it to every admitted request's latency; this way ("adaptive LIFO") the ones
    shed are those that waited longest, and an admitted request's latency stays near its
    service time, while a short burst is still worked off in order.
    """

    def __init__(
        self, limit: int, wait: float, on_shed: Callable[[], object] | None = None
    ) -> None:
        if limit < 1:
            raise ValueError("the admission limit must be at least 1")
        if wait < 0:
            raise ValueError("the admission wait cannot be negative")
        self.limit = limit
        self.wait = wait
        self._taken = 0  # places held, including those handed to a waiter not yet resumed
        # each waiting request's future, oldest first: set True when it is handed a place
        self._waiting: collections.deque[asyncio.Future[bool]] = collections.deque()
        self._body = problem_response_body(problem("overloaded"))
        self._on_shed = on_shed  # counts a shed request (a metric)

    @property
    def in_progress(self) -> int:
        return self._taken

    @property
    def waiting(self) -> int:
        return len(self._waiting)

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
            self._leave()

    async def _enter(self) -> bool:
        if self._taken < self.limit:  # a free place: taken without yielding
            self._taken += 1
            return True
        if self.wait <= 0:
            return False
        loop = asyncio.get_running_loop()
        place: asyncio.Future[bool] = loop.create_future()
        self._waiting.append(place)
        timer = loop.call_later(self.wait, self._give_up, place)
        try:
            return await place  # True: a leaving request handed its place over
        except asyncio.CancelledError:  # the request itself was cancelled (server stopping)
            if place.done() and not place.cancelled() and place.result():
                self._leave()  # handed a place it will not use: pass it on
            elif place in self._waiting:
                self._waiting.remove(place)
            raise
        finally:
            timer.cancel()

    def _give_up(self, place: asyncio.Future[bool]) -> None:
        if not place.done():
            place.set_result(False)
            self._waiting.remove(place)

    def _leave(self) -> None:
        while self._waiting:
            overloaded = len(self._waiting) > self.limit
            place = self._waiting.pop() if overloaded else self._waiting.popleft()
            if not place.done():  # not cancelled meanwhile (its handler is yet to run)
                place.set_result(True)  # the place passes to it, still taken
                return
        self._taken -= 1

    async def _shed(self, send: Any) -> None:
        if self._on_shed is not None:
            self._on_shed()
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [*_HEADERS, (b"content-length", str(len(self._body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": self._body})

"""Per-request observation: request id, the request's log context, one log line, metrics.

This runs *outside* litestar's router (see `app.HavenApp`), so that it sees every response,
including the 404 of an unknown path and the 413 of a body too large, which never reach a
route's middleware. Everything it records is bounded and id-free:

* the route label and the `route` log key are the route *template* (`/v1/cases/{case_id}`)
  or `UNMATCHED` when no route matched, never the raw path, which can carry ids;
* the method label is one of the methods Haven serves or "OTHER";
* request and response bodies are never read here.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess

from services.observability.logging import bind_request, clear_request, get_logger

REQUEST_ID_HEADER = "X-Request-ID"
UNMATCHED = "unmatched"  # the route label of a request no route matched
_STATE_KEY = "haven_request_id"  # where the request id lives in scope["state"]
_BOUND_KEY = "haven_log_context"  # what `bind_scope` last bound for the request
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    """The API's Prometheus metrics, in a registry of its own (never the process-global one),
    so that two apps in one process (tests) do not share or collide.

    `multiprocess_dir` (`Settings.metrics_dir`): the server's worker processes each write their
    figures to files there (prometheus-client's multiprocess mode, which PROMETHEUS_MULTIPROC_DIR
    switches on when a process imports it), and `scrape` adds every worker's up: /metrics
    reports the whole server, whichever worker answers. The gauges are set at each scrape from
    the database, so the most recently set value is the server's (`mostrecent`)."""

    def __init__(self, multiprocess_dir: Path | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("method", "route", "status")
        self.requests = Counter(
            "haven_http_requests", "HTTP requests answered.", labels, registry=self.registry
        )
        self.latency = Histogram(
            "haven_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.shed = Counter(
            "haven_http_requests_shed",
            "Requests answered 503 overloaded at once, before any work (services.api.admission).",
            registry=self.registry,
        )
        # Set at every scrape from the checkpoints table, wherever the projectors run.
        self.projection_lag_events = Gauge(
            "haven_projection_lag_events",
            "Committed events a projection has not applied yet.",
            ("projection",),
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.projection_lag_seconds = Gauge(
            "haven_projection_lag_seconds",
            "Age of the oldest event a projection has not applied yet.",
            ("projection",),
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.projection_quarantined = Gauge(
            "haven_projection_quarantined_streams",
            "Streams a projection set aside because it cannot apply one of their "
            "events (`haven projections status` lists them).",
            ("projection",),
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        # each (method, route, status)'s counter and histogram, looked up once, not per request
        self._labelled: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def scrape(self) -> CollectorRegistry:
        """The registry /metrics renders: this process's, or every worker's added up."""
        if self.multiprocess_dir is None:
            return self.registry
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=str(self.multiprocess_dir))
        return merged

    def close(self) -> None:
        """At a worker's shutdown: drop its `live*` gauges, should one be defined; counters
        and the other gauges stay, they are the server's figures."""
        if self.multiprocess_dir is not None:
            multiprocess.mark_process_dead(os.getpid(), str(self.multiprocess_dir))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        labelled = self._labelled.get((method, route, status))
        if labelled is None:  # (bounded: methods, route templates and statuses are few)
            labels = (method, route, str(status))
            labelled = self.requests.labels(*labels), self.latency.labels(*labels)
            self._labelled[(method, route, status)] = labelled
        labelled[0].inc()
        labelled[1].observe(seconds)


def request_id(scope: MutableMapping[str, Any]) -> str | None:
    state = scope.get("state")
    return state.get(_STATE_KEY) if isinstance(state, dict) else None


def route_template(scope: MutableMapping[str, Any]) -> str:
    """The matched route's template; set by litestar's router, absent when nothing matched."""
    template = scope.get("path_template")
    return template if isinstance(template, str) and template else UNMATCHED


def bind_scope(scope: MutableMapping[str, Any]) -> None:
    """(Re)bind the log context from what the scope knows now: after routing the template,
    after authentication the principal."""
    rid = request_id(scope)
    if rid is None:
        return
    user = scope.get("user")
    context = (
        rid,
        route_template(scope),
        getattr(user, "user_id", None),
        getattr(user, "organisation_id", None),
    )
    state = scope["state"]
    if state.get(_BOUND_KEY) != context:  # bound already in this request's context: kept
        bind_request(*context)
        state[_BOUND_KEY] = context


async def observed(
    app: Any, metrics: ApiMetrics, scope: MutableMapping[str, Any], receive: Any, send: Any
) -> None:
    """Call `app` for one HTTP request, adding the request id header, the log line and metrics."""
    rid = uuid.uuid4().hex
    scope.setdefault("state", {})[_STATE_KEY] = rid
    method = scope.get("method", "")
    method = method if method in _METHODS else "OTHER"
    status = 500  # if the app raises before answering, the server answers 500
    started = time.perf_counter()
    bind_scope(scope)

    async def send_with_id(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
            headers = [
                (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
            ]
            headers.append((b"x-request-id", rid.encode("ascii")))
            message["headers"] = headers
        await send(message)

    try:
        await app(scope, receive, send_with_id)
    finally:
        seconds = time.perf_counter() - started
        route = route_template(scope)
        metrics.observe(method, route, status, seconds)
        bind_scope(scope)
        get_logger("api").info(
            "request",
            method=method,
            route=route,
            status=status,
            latency_ms=round(seconds * 1000, 3),
        )
        clear_request()

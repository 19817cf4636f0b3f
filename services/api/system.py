"""Operational routes, public (no token): liveness, readiness, metrics.

* `/health`: the process answers; touches nothing else, so an orchestrator does not restart a
  healthy process because the database blinked.
* `/ready`: the database answers `SELECT 1` and the key provider passes its check and unwraps
  a stored data key and the organisations' secrets (`events.kek_probe`); otherwise 503
  `service-unavailable`, so a load balancer stops sending traffic. A key provider's failure
  is named in the problem's detail (`kek-unavailable`, `kek-mismatch`: never a key or an id);
  any other cause is logged as `error_code` only. When a projection has quarantined streams
  (`projections.quarantine`), the answer is still 200 and names how many per projection
  (`"quarantined": {"cases": 1}`): the service works, an operator must look.
* `/metrics`: Prometheus text from the app's own registry, or from every worker's under
  `haven serve` (`ApiMetrics.scrape`): requests and latencies by route template, and each
  projection's lag (events and seconds behind the log, read from the
  checkpoints at scrape time, wherever the projectors run) and quarantined streams. It carries
  no ids, but it is operational data: expose it to the scraper's network only.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import MediaType, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from events.kek_probe import kek_problem, stored_samples
from projections import checkpoints, quarantine
from services.api.errors import problem_response
from services.api.observe import ApiMetrics
from services.api.problems import PROBLEM_MEDIA_TYPE, Problem, problem
from services.bootstrap import Runtime
from services.observability.logging import get_logger

READY_TIMEOUT_SECONDS = 2.0
_KEK_REASONS = {
    "kek-unavailable": "kek-unavailable: the key provider (HAVEN_KEK) cannot be used",
    "kek-mismatch": "kek-mismatch: a stored data key does not unwrap under the configured "
    "key provider (HAVEN_KEK names other keys than the ones this database was written with)",
}


class Status(msgspec.Struct, frozen=True, omit_defaults=True):
    status: str
    # streams each projection set aside (`projections.quarantine`): ready, but an operator must look
    quarantined: dict[str, int] | None = None


@get(
    "/health", operation_id="health", tags=["operations"], summary="Liveness", sync_to_thread=False
)
def health() -> Status:
    return Status(status="ok")


@get(
    "/ready",
    operation_id="ready",
    tags=["operations"],
    summary="Readiness: database and key provider",
    responses={
        503: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
            description="Not ready (`service-unavailable`).",
        )
    },
)
async def ready(runtime: NamedDependency[Runtime]) -> Response[Any]:
    try:
        await asyncio.wait_for(runtime.pool.fetchval("SELECT 1"), READY_TIMEOUT_SECONDS)
    except Exception as error:  # noqa: BLE001 (any failure means not ready)
        get_logger("api").warning(
            "not ready", error_code="database-unavailable", exc_type=type(error).__name__
        )
        return problem_response(problem("service-unavailable"))
    try:
        samples = await asyncio.wait_for(stored_samples(runtime.pool), READY_TIMEOUT_SECONDS)
        # A provider's check and unwrap may block (an HSM session): keep them off the event loop.
        reason = await asyncio.wait_for(
            asyncio.to_thread(kek_problem, runtime.keyring.provider, samples),
            READY_TIMEOUT_SECONDS,
        )
    except Exception as error:  # noqa: BLE001
        get_logger("api").warning(
            "not ready", error_code="key-provider-unavailable", exc_type=type(error).__name__
        )
        return problem_response(problem("service-unavailable"))
    if reason is not None:
        get_logger("api").warning("not ready", error_code=reason)
        return problem_response(problem("service-unavailable", detail=_KEK_REASONS[reason]))
    try:
        quarantined = await asyncio.wait_for(quarantine.counts(runtime.pool), READY_TIMEOUT_SECONDS)
    except Exception as error:  # noqa: BLE001 (a detail: the service is ready without it)
        get_logger("api").warning(
            "quarantine unavailable",
            error_code="database-unavailable",
            exc_type=type(error).__name__,
        )
        quarantined = {}
    return Response(Status(status="ready", quarantined=quarantined or None))


@get(
    "/metrics",
    operation_id="metrics",
    tags=["operations"],
    summary="Prometheus metrics",
    media_type=MediaType.TEXT,
)
async def metrics(
    api_metrics: NamedDependency[ApiMetrics], runtime: NamedDependency[Runtime]
) -> Response[bytes]:
    try:
        lags = await asyncio.wait_for(checkpoints.lag(runtime.pool), READY_TIMEOUT_SECONDS)
        quarantined = await asyncio.wait_for(quarantine.counts(runtime.pool), READY_TIMEOUT_SECONDS)
    except Exception as error:  # noqa: BLE001 (the request figures are still worth serving)
        get_logger("api").warning(
            "projection lag unavailable",
            error_code="database-unavailable",
            exc_type=type(error).__name__,
        )
    else:
        for name, lag in lags.items():
            api_metrics.projection_lag_events.labels(name).set(lag.events)
            api_metrics.projection_lag_seconds.labels(name).set(lag.seconds)
            api_metrics.projection_quarantined.labels(name).set(quarantined.get(name, 0))
    return Response(generate_latest(api_metrics.scrape()), media_type=CONTENT_TYPE_LATEST)

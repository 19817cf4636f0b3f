"""Running the projections: `haven worker`, `haven projections rebuild|status`, and the
in-process projectors of `haven serve` (see `services.api.asgi`)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from tqdm import tqdm

from projections import checkpoints, quarantine
from projections.catalog import projection_factories
from projections.partitioned import Partitioning
from projections.rebuild import count_events, rebuild
from projections.runner import ProjectionRunner, run_projections
from services.bootstrap import Runtime, runtime
from services.checkpoints import checkpoint_periodically
from services.database_connect import connect as connect_each_host
from services.inbox.expiry import expire_periodically
from services.observability.logging import configure_logging, get_logger
from services.retention.run import retention_daily
from services.settings import Settings


def projection_runners(
    rt: Runtime, database_url: str, names: Sequence[str] | None = None
) -> list[ProjectionRunner]:
    connect = functools.partial(
        connect_each_host, rt.session_url or database_url, timeout=rt.connect_timeout
    )
    factories = projection_factories(rt.keyring, rt.store)
    runners = [
        ProjectionRunner(rt.store, connect, make)
        for name, make in factories.items()
        if names is None or name in names
    ]
    if (
        rt.erasures is not None
    ):  # an erasure elsewhere: the projectors forget what they cached of it
        for runner in runners:
            rt.erasures.subscribe(runner.drop_cached, runner.drop_all_cached)
    return runners


STOP_GRACE = 15.0  # seconds the projectors get to stop when `haven serve` shuts down

_log = get_logger("projections")


@contextlib.asynccontextmanager
async def projectors_in_background(
    rt: Runtime, database_url: str
) -> AsyncIterator[list[ProjectionRunner]]:
    """Run every projection in this process for the duration (haven serve).

    At the end they are cancelled and given `STOP_GRACE` seconds. Projectors that have not
    stopped by then are abandoned, so that shutdown always completes; where each one was
    waiting is logged (code locations only). Abandoning one is safe: its batch transaction
    goes with its connection when the pool closes, and a rebuild's unswapped tables are dropped
    by the next rebuild (`projections.rebuild`)."""
    runners = projection_runners(rt, database_url)
    task = asyncio.create_task(_projections_and_expiry(rt, runners), name="projections")
    try:
        yield runners
    finally:
        await stop_within(task, STOP_GRACE, "projection")


async def stop_within(task: asyncio.Task[None], grace: float, family: str) -> bool:
    """Cancel `task` and wait for it at most `grace` seconds (its error, if it failed, is
    raised). False if it has not stopped: then every task whose name starts with `family` is
    logged with where it waits, and left behind."""
    task.cancel()
    await asyncio.wait({task}, timeout=grace)
    if not task.done():
        for stuck in [t for t in asyncio.all_tasks() if t.get_name().startswith(family)]:
            _log.warning("task did not stop in time; abandoned", waiting_at=waiting_at(stuck))
        return False
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return True


def waiting_at(task: asyncio.Task[object]) -> str:
    """Where a task is suspended, innermost first: 'file:line function < ...' (no values)."""
    places = []
    awaited: object = task.get_coro()
    while awaited is not None and len(places) < 12:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None)
        if frame is not None:
            places.append(
                f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno} {frame.f_code.co_name}"
            )
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)
    return " < ".join(reversed(places))


async def _projections_and_expiry(rt: Runtime, runners: Sequence[ProjectionRunner]) -> None:
    """The projections, and the hourly expiry of referrals unanswered in a partner's inbox
    (`services.inbox.expiry`), which reads their read model."""
    async with asyncio.TaskGroup() as group:
        group.create_task(run_projections(runners))
        group.create_task(expire_periodically(rt), name="projections-referral-expiry")


async def _worker_tasks(
    rt: Runtime, settings: Settings, runners: Sequence[ProjectionRunner]
) -> None:
    """The projections, signed checkpoints when `HAVEN_CHECKPOINT_DIR` is set, and the daily
    retention run when `HAVEN_RETENTION_DAILY` is on."""
    async with asyncio.TaskGroup() as group:
        group.create_task(_projections_and_expiry(rt, runners))
        if settings.checkpoint_dir is not None:
            group.create_task(checkpoint_periodically(rt.pool, settings), name="checkpoints")
        if settings.retention_daily:
            group.create_task(retention_daily(rt), name="retention")


async def run_worker(settings: Settings, url: str) -> int:
    """`haven worker`: projections (and signed checkpoints when `HAVEN_CHECKPOINT_DIR` is set,
    the daily retention run when `HAVEN_RETENTION_DAILY` is on) until SIGINT or SIGTERM; logs
    as JSON through the redacting pipeline, as the API does."""
    configure_logging()
    async with runtime(settings, url) as rt:
        runners = projection_runners(rt, url)
        task = asyncio.create_task(_worker_tasks(rt, settings, runners))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        print(
            f"haven: worker running projections: {', '.join(r.name for r in runners)}",
            file=sys.stderr,
        )
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return 0


async def rebuild_projections(
    settings: Settings,
    url: str,
    names: Sequence[str],
    *,
    workers: int = 1,
    retry_quarantined: bool = False,
) -> int:
    """`haven projections rebuild [NAME...] [--workers N] [--retry-quarantined]`: with a
    progress bar (events, rate, time left). A stream-local projection's bulk pass runs in
    `workers` processes (`projections.partitioned`), which open the database and the key
    provider themselves. `retry_quarantined` empties each projection's quarantine first, so
    its streams are applied again (once the cause is mended; any that still fail return)."""
    if workers < 1:
        print("haven: --workers must be at least 1", file=sys.stderr)
        return 2
    session_url = settings.session_url(url)  # the workers' pools hold a session lock
    partitioning = Partitioning(session_url, settings.kek_uri, workers)
    async with runtime(settings, url) as rt:
        factories = projection_factories(rt.keyring, rt.store)
        unknown = sorted(set(names) - set(factories))
        if unknown:
            print(
                f"haven: no such projection: {', '.join(unknown)} (known: {', '.join(factories)})",
                file=sys.stderr,
            )
            return 2
        total = await count_events(rt.pool)
        for name in names or list(factories):
            if retry_quarantined:
                async with rt.pool.acquire() as conn:
                    released = await quarantine.release(conn, name)
                    print(f"haven: {name}: {released} quarantined streams to retry")
            with tqdm(total=total, desc=name, unit="ev", unit_scale=True, file=sys.stderr) as bar:
                built = await rebuild(
                    rt.store,
                    rt.pool,
                    factories[name],
                    progress=bar.update,
                    partitioning=partitioning,
                    session=functools.partial(
                        connect_each_host,
                        session_url,
                        timeout=settings.database_limits.connect_timeout,
                    ),
                )
            print(f"haven: {name} rebuilt as generation {built.generation}")
    return 0


async def wait_for_projections(settings: Settings, url: str, timeout: float) -> int:
    """`haven projections wait`: until every projection has applied everything committed now
    (exit 1 on timeout) — for scripts that write and then read a view."""
    async with runtime(settings, url) as rt:
        names = list(projection_factories(rt.keyring, rt.store))
        head = await checkpoints.log_head(rt.pool)
        if await checkpoints.wait_until_projected(rt.pool, names, head, timeout=timeout):
            return 0
    print(f"haven: projections did not catch up within {timeout:g} s", file=sys.stderr)
    return 1


async def projection_status(settings: Settings, url: str) -> int:
    """`haven projections status`: generation, lag in events and seconds, and quarantined
    streams per projection; then each quarantined stream (ids, event type, error class)."""
    async with runtime(settings, url) as rt:
        lags = await checkpoints.lag(rt.pool)
        quarantined = await quarantine.counts(rt.pool)
        for name in projection_factories(rt.keyring, rt.store):
            checkpoint = await checkpoints.load(rt.pool, name)
            if checkpoint is None:
                print(f"{name:12s} not built yet")
                continue
            lag = lags[name]
            print(
                f"{name:12s} generation {checkpoint.generation}  "
                f"behind: {lag.events} events, {lag.seconds:.1f} s  "
                f"quarantined: {quarantined.get(name, 0)} streams"
            )
        for entry in await quarantine.listing(rt.pool):
            print(
                f"quarantined  {entry.projection} {entry.tenant_id} {entry.stream_id} "
                f"version {entry.version} {entry.event_type} {entry.error_class} "
                f"since {entry.quarantined_at}"
            )
    return 0

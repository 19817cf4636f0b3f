"""`haven serve` shutdown: projectors get a bounded grace, then are abandoned, so the process
always exits (a fresh-clone CI run once saw `haven serve --demo` hang for 60 s after SIGINT
with its start-up rebuilds under way)."""

from __future__ import annotations

import asyncio

import structlog

from services.projection_service import stop_within


async def _ignores_cancellation() -> None:
    """A projector stuck in code that swallows its cancellation (the failure
    being guarded against)."""
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            continue


async def _cooperates() -> None:
    await asyncio.sleep(3600)


async def test_a_projector_that_ignores_cancellation_is_abandoned_after_the_grace_with_its_place_logged() -> (  # noqa: E501
    None
):
    stuck = asyncio.create_task(_ignores_cancellation(), name="projection:stuck")
    await asyncio.sleep(0)
    try:
        with structlog.testing.capture_logs() as logs:
            stopped = await asyncio.wait_for(stop_within(stuck, 0.2, "projection"), timeout=30)
        assert stopped is False and not stuck.done()
        [line] = logs
        assert line["event"] == "task did not stop in time; abandoned"
        assert (
            "test_projector_shutdown.py:" in line["waiting_at"]
            and "_ignores_cancellation" in line["waiting_at"]
        )
    finally:
        stuck.get_coro().close()  # the test's own clean-up: end the coroutine that ignores cancel()


async def test_control_a_projector_that_stops_is_awaited_and_nothing_is_logged() -> None:
    task = asyncio.create_task(_cooperates(), name="projection:ok")
    await asyncio.sleep(0)
    with structlog.testing.capture_logs() as logs:
        assert await stop_within(task, 5.0, "projection") is True
    assert task.cancelled() and logs == []

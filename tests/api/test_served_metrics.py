"""/metrics of `haven serve --workers 2` reports the whole server: every worker writes its
figures to the server's metrics directory (prometheus-client's multiprocess mode) and a scrape
adds them up, whichever worker answers it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from services.bench.scratch import scratch_database
from tests.api.serve_support import haven_serve
from tests.api.test_served import free_port, until_ready
from tests.services.test_database_paths import haven_env

pytestmark = pytest.mark.slow

BATCH = 16  # concurrent requests, each on a connection of its own
MAX_BATCHES = 100
MAX_SCRAPES = 200


def requests_by_route(families: Any) -> dict[str, float]:
    counts: dict[str, float] = {}
    for family in families:
        for sample in family.samples:
            if sample.name == "haven_http_requests_total":
                route = sample.labels["route"]
                counts[route] = counts.get(route, 0.0) + sample.value
    return counts


def per_worker(metrics_dir: Path, route: str) -> dict[str, float]:
    """Each worker's own count of `route`, from its file in the metrics directory."""
    counts = {}
    for path in sorted(metrics_dir.glob("counter_*.db")):
        families = MultiProcessCollector.merge([str(path)])  # type: ignore[no-untyped-call]
        counts[path.name] = requests_by_route(families).get(route, 0.0)
    return counts


def answered_by_both(counts: dict[str, float]) -> bool:
    return len(counts) == 2 and all(count > 0 for count in counts.values())


async def until_projectors_report_lag(client: httpx.AsyncClient) -> int:
    """Wait until a worker's projectors have measured their lag once (a server starting on
    an empty database builds its projections first); returns the scrapes it took."""
    for scraped in range(1, MAX_SCRAPES + 1):
        answer = await client.get("/metrics")
        names = {family.name for family in text_string_to_metric_families(answer.text)}
        if "haven_projection_lag_events" in names:
            return scraped
        await asyncio.sleep(0.05)
    pytest.fail("the projectors never reported their lag")


async def scrape(client: httpx.AsyncClient) -> dict[str, float]:
    answer = await client.get("/metrics")
    assert answer.status_code == 200
    families = list(text_string_to_metric_families(answer.text))
    assert any(family.name == "haven_projection_lag_events" for family in families)
    return requests_by_route(families)


async def test_metrics_add_up_every_worker_whichever_answers(
    server_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    metrics_dir = data_dir / "metrics"
    metrics_dir.mkdir(parents=True)
    (metrics_dir / "counter_1.db").write_bytes(b"left by an earlier server")
    port = free_port()
    log = tmp_path / "serve.log"
    async with scratch_database(server_url) as url:
        env = haven_env(
            HAVEN_DATABASE_URL=url,
            HAVEN_DATA_DIR=str(data_dir),
            HAVEN_KEK=f"file:{tmp_path / 'kek'}",
        )
        with haven_serve(env, log, "--port", str(port), "--workers", "2") as process:
            fresh = httpx.Limits(max_keepalive_connections=0)  # a connection per request
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", timeout=10.0, limits=fresh
            ) as client:
                await until_ready(client, process, log)
                scrapes = await until_projectors_report_lag(client)
                assert not (metrics_dir / "counter_1.db").exists()  # emptied at start
                sent = 0
                for _ in range(MAX_BATCHES):
                    answers = await asyncio.gather(*(client.get("/health") for _ in range(BATCH)))
                    assert all(answer.status_code == 200 for answer in answers)
                    sent += BATCH
                    if answered_by_both(per_worker(metrics_dir, "/health")):
                        break
                else:
                    pytest.fail(f"one worker answered all {sent} requests")
                # a worker counts a request once it has answered it: wait until both have
                for _ in range(MAX_SCRAPES):
                    if sum(per_worker(metrics_dir, "/health").values()) == sent:
                        break
                    await asyncio.sleep(0.01)
                # each scrape counts the earlier ones once recorded; scrape until both answered
                for _ in range(MAX_SCRAPES):
                    counts = await scrape(client)
                    assert counts["/health"] == sent, (counts, sent)
                    assert counts.get("/metrics", 0.0) <= scrapes
                    scrapes += 1
                    if answered_by_both(per_worker(metrics_dir, "/metrics")):
                        break
                else:
                    pytest.fail("one worker answered every scrape")
                for _ in range(MAX_SCRAPES):
                    counts = await scrape(client)
                    assert counts["/health"] == sent
                    if counts.get("/metrics") == scrapes:
                        break
                    scrapes += 1
                else:
                    pytest.fail(f"the scrapes were never all counted: {counts}")
    assert process.returncode == 0, log.read_text(errors="replace")[-2000:]
    assert "(2 worker(s))" in log.read_text(errors="replace")

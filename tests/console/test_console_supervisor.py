"""The supervisor's team page over HTTP: the team's caseload without survivor data, refused
to a case worker, and every chart's numbers repeated in its table."""

from __future__ import annotations

import re

from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.bootstrap import Runtime
from tests.conftest import empty_log_and_read_models
from tests.console.support import HARBOR_SUPERVISOR

CANARY = "Canary Quillfeather"  # survivor data: must never reach a supervisor's page


async def project(runtime: Runtime) -> None:
    """Build the caseload from the log (the projector's work)."""
    await rebuild(
        runtime.store, runtime.pool, projection_factories(runtime.keyring, runtime.store)["cases"]
    )


async def test_the_team_page_shows_the_caseload_without_survivor_data(browser, runtime):
    await empty_log_and_read_models(runtime.pool)
    async with browser() as worker:
        await worker.sign_in()
        case_id = await worker.open_case(CANARY)
        logged = await worker.log_service(case_id, notes=f"Met {CANARY} at the shelter")
        assert logged.status_code == 303
    await project(runtime)
    async with browser() as supervisor:
        await supervisor.sign_in(HARBOR_SUPERVISOR)
        page = await supervisor.client.get("/console/team")
        assert page.status_code == 200
        assert f"<td>{case_id}</td>" in page.text  # its service was logged on 2026-01-12
        assert "worker-harbor-intake-1" in page.text and 'role="img"' in page.text
        quiet = await supervisor.client.get("/console/team", params={"days": "-1"})
        assert quiet.status_code == 400  # N is at least 0 (0: every open case)
        for text in (page.text, (await supervisor.client.get("/console/")).text):
            assert CANARY not in text and "Quillfeather" not in text and "shelter" not in text
        assert 'href="/console/team"' in page.text


async def test_a_quiet_case_is_listed_by_its_id_only(browser, runtime):
    await empty_log_and_read_models(runtime.pool)
    async with browser() as worker:
        await worker.sign_in()
        case_id = await worker.open_case(CANARY)  # intake on 2026-01-05, no service since
    await project(runtime)
    async with browser() as supervisor:
        await supervisor.sign_in(HARBOR_SUPERVISOR)
        page = (await supervisor.client.get("/console/team", params={"days": "1"})).text
        assert f"<td>{case_id}</td>" in page and CANARY not in page


async def test_a_case_worker_is_refused_the_team_page(browser):
    async with browser() as worker:
        await worker.sign_in()
        page = await worker.client.get("/console/team")
        assert page.status_code == 404
        assert "Nothing here that you may see" in page.text
        assert 'href="/console/team"' not in page.text


def chart_numbers(page: str, name: str) -> list[tuple[str, int]]:
    svg = page[page.index(f'id="chart-{name}"') : page.index("</svg>", page.index(name))]
    labels = re.findall(r'class="bar-label"[^>]*>([^<]+)<', svg)
    values = [int(v) for v in re.findall(r'class="bar-value"[^>]*>(\d+)<', svg)]
    return list(zip(labels, values, strict=True))


def table_numbers(page: str, name: str) -> list[tuple[str, int]]:
    start = page.index(f'<table id="table-{name}">')
    table = page[start : page.index("</table>", start)]
    rows = re.findall(r'<th scope="row">([^<]+)</th><td>(\d+)</td>', table)
    return [(label, int(value)) for label, value in rows]


async def test_each_charts_numbers_equal_its_tables(browser, runtime):
    await empty_log_and_read_models(runtime.pool)
    async with browser() as worker:
        await worker.sign_in()
        for name in ("A", "B"):
            await worker.open_case(f"{CANARY} {name}")
    await project(runtime)
    async with browser() as supervisor:
        await supervisor.sign_in(HARBOR_SUPERVISOR)
        page = (await supervisor.client.get("/console/team", params={"days": "1"})).text
    for name in ("workload", "referrals", "quiet"):
        chart = chart_numbers(page, name)
        assert chart and chart == table_numbers(page, name), name
    assert ("worker-harbor-intake-1", 2) in chart_numbers(page, "workload")
    assert ("worker-harbor-intake-1", 2) in chart_numbers(page, "quiet")
    assert "style=" not in page and "<script" not in page

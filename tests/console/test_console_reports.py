"""The reporter's federal report pages over HTTP: the release shown as tables with its
suppressed cells marked in words, its downloads equal to the API's document, a refusal that
shows only its reference, an invalid period named next to its field, and the pages refused
to a case worker."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import httpx
import pytest

from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.bootstrap import Runtime
from services.console import report_views as views
from services.demo.bulk import seed_demo_bulk
from services.identity import LocalIssuer
from tests.api.conftest import api_client
from tests.conftest import empty_log_and_read_models
from tests.console.support import HARBOR_REPORTER, assert_security_headers
from tests.services.reporting.conftest import (
    TODAY,
    disclosure_policy,
    empty_ledger,
    reset_reporting,
)
from tests.services.reporting.releases import Releases

REFUSAL = re.compile(r"Refused by the disclosure policy\. Reference ([0-9a-f-]{36})\.")
ROLL_UP = {"period": "2026Q3", "scope": "all", "mode": "suppression"}


@pytest.fixture(scope="module")
def seeded() -> dict[str, Any]:
    return {}


@pytest.fixture
async def reportable(runtime: Runtime, seeded: dict[str, Any]) -> Runtime:
    """The demo data of the API's report tests (final quarters up to 2026Q3), an empty ledger."""
    if not seeded:
        await empty_log_and_read_models(runtime.pool)
        await seed_demo_bulk(runtime.store, cases=300, seed=8, today=TODAY)
        await rebuild(
            runtime.store,
            runtime.pool,
            projection_factories(runtime.keyring, runtime.store)["federal_inputs"],
        )
        seeded["done"] = True
    await reset_reporting(runtime.pool)
    await empty_ledger(runtime.pool)
    return runtime


class ThroughTheApi:
    """Releases asked by a reporter of org-harbor through `GET /v1/reports/federal`."""

    def __init__(self, client: httpx.AsyncClient, issuer: LocalIssuer) -> None:
        token = issuer.mint("reporter-harbor", "org-harbor", ["reporter"], None)
        self._client, self._headers = client, {"Authorization": f"Bearer {token}"}

    async def run(self, period: str, organisation: str | None = None) -> dict[str, Any]:
        params = {"period": period} | ({"org": organisation} if organisation else {})
        response = await self._client.get(
            "/v1/reports/federal", params=params, headers=self._headers
        )
        assert response.status_code == 200, response.text
        return response.json()


def cells(document: dict[str, Any]) -> list[tuple[str, dict[str, str], Any, str]]:
    return [
        (table["name"], cell["dims"], cell["count"], cell["status"])
        for table in document["tables"]
        for cell in table["cells"]
    ]


def assert_download(response: httpx.Response, media_type: str, file_name: str) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["content-disposition"] == f'attachment; filename="{file_name}"'
    assert_security_headers(response)


@pytest.mark.slow
async def test_a_reporter_sees_the_release_marked_and_downloads_the_apis_document(
    browser, console_app, issuer: LocalIssuer, reportable: Runtime, releases: Releases
) -> None:
    async with api_client(console_app, lifespan=False) as api:
        [document] = await releases.after(
            reportable.pool, ThroughTheApi(api, issuer), ("2026Q3", None)
        )
    statuses = [status for _, _, _, status in cells(document)]
    assert "suppressed" in statuses and "published" in statuses  # control: both to show
    async with browser() as reporter:
        await reporter.sign_in(HARBOR_REPORTER)
        form = await reporter.client.get("/console/reports")
        assert form.status_code == 200 and 'method="get" action="/console/reports"' in form.text
        page = await reporter.client.get("/console/reports", params=ROLL_UP)
        assert page.status_code == 200, page.text
        assert_security_headers(page)
        text = page.text
        assert text.count("<caption>") == len(document["tables"])
        assert '<th scope="col">Count</th>' in text and '<th scope="row">' in text
        marked = re.findall(r'<span class="marked">suppressed</span>', text)
        assert len(marked) == statuses.count("suppressed")
        assert 'href="#note-suppressed">suppressed (k = 11)</a>' in text
        assert "k = 11" in text and document["certificate"]["ledger_hash"] in text

        query = "period=2026Q3&scope=all&mode=suppression"
        table = await reporter.client.get(f"/console/reports/download.csv?{query}")
        assert_download(table, "text/csv", "federal-2026Q3-all.csv")
        rows = list(csv.DictReader(io.StringIO(table.text)))
        assert [(r["table"], r["count"], r["status"]) for r in rows] == [
            (name, "" if count is None else str(count), status)
            for name, _, count, status in cells(document)
        ]
        whole = await reporter.client.get(f"/console/reports/download.json?{query}")
        assert_download(whole, "application/json", "federal-2026Q3-all.json")
        assert whole.json() == document
        certificate = await reporter.client.get(f"/console/reports/certificate.json?{query}")
        assert_download(certificate, "application/json", "federal-2026Q3-all-certificate.json")
        assert certificate.json()["certificate"] == document["certificate"]
    released = await reportable.pool.fetchval("SELECT count(*) FROM reporting_ledger.releases")
    assert released == 1  # the page and the downloads are the one release


@pytest.mark.slow
async def test_a_refused_release_shows_only_its_reference(browser, reportable: Runtime) -> None:
    await reportable.pool.execute("TRUNCATE reporting_ledger.refusals")
    asked = {"period": "2026Q1", "scope": "all", "mode": "dp", "epsilon": "1"}
    async with browser() as reporter:
        await reporter.sign_in(HARBOR_REPORTER)
        async with disclosure_policy(reportable.pool, noise_floor=1000):
            page = await reporter.client.get("/console/reports", params=asked)
        assert page.status_code == 409, page.text
        [reference] = REFUSAL.findall(page.text)
        reason = await reportable.pool.fetchval(
            "SELECT reason FROM reporting_ledger.refusals WHERE reference = $1::uuid", reference
        )
        assert reason.startswith("PolicyExceeded")  # control: the reason is recorded
        assert "PolicyExceeded" not in page.text and "noise scale" not in page.text
        assert 'id="report"' not in page.text
        running = await reporter.client.get(
            "/console/reports", params={**ROLL_UP, "period": "2026Q4"}
        )
        assert running.status_code == 409 and "this period is still running" in running.text


async def test_an_invalid_period_or_epsilon_is_named_next_to_its_field(browser) -> None:
    async with browser() as reporter:
        await reporter.sign_in(HARBOR_REPORTER)
        for period in ("2026-07", "2026Q9", ""):
            page = await reporter.client.get(
                "/console/reports", params={**ROLL_UP, "period": period}
            )
            assert page.status_code == 422, (period, page.text)
            field = page.text[page.text.index('<label for="f-period">') :]
            field = field[: field.index('id="f-period" ')]
            assert "such as 2026Q3." in field and 'id="f-period-error"' in field
            assert 'aria-invalid="true" aria-describedby="f-period-error' in page.text
        noisy = await reporter.client.get(
            "/console/reports", params={**ROLL_UP, "mode": "dp", "epsilon": "many"}
        )
        assert noisy.status_code == 422 and 'id="f-epsilon-error"' in noisy.text
        download = await reporter.client.get("/console/reports/download.csv?period=2026-07")
        assert download.status_code == 422 and 'id="f-period-error"' in download.text


async def test_a_case_worker_is_refused_the_report_pages(browser) -> None:
    async with browser() as worker:
        await worker.sign_in()
        for path in ("/console/reports", "/console/reports/download.json?period=2026Q3"):
            page = await worker.client.get(path)
            assert page.status_code == 404, path
            assert "Nothing here that you may see" in page.text
            assert "Reports" not in page.text


def test_the_csv_keeps_fractional_hours_and_writes_whole_counts_whole() -> None:
    assert [views.count_text(n) for n in (None, 12, 12.0, 2.5)] == ["", "12", "12", "2.5"]


def test_the_csv_has_one_row_per_cell_and_runs_no_formula() -> None:
    document = {
        "period": "2026Q3",
        "codebook_version": "federal-2026.1",
        "tables": [
            {
                "name": '=HYPERLINK("http://x")',
                "program": "ovc_tims",
                "coverage": "quarter",
                "cells": [
                    {"dims": {"gender": "+1"}, "count": None, "status": "suppressed"},
                    {"dims": {"gender": "female"}, "count": 12, "status": "published"},
                ],
            }
        ],
        "certificate": {},
    }
    rows = list(csv.reader(io.StringIO(views.csv_text(document, dp=False))))
    assert rows == [
        ["period", "table", "program", "coverage", "cell", "count", "status"],
        [
            "2026Q3",
            '\'=HYPERLINK("http://x")',
            "ovc_tims",
            "quarter",
            "gender=+1",
            "",
            "suppressed",
        ],
        [
            "2026Q3",
            '\'=HYPERLINK("http://x")',
            "ovc_tims",
            "quarter",
            "gender=female",
            "12",
            "published",
        ],
    ]
    assert views.safe("-1") == "'-1" and views.safe("@x") == "'@x" and views.safe("a=b") == "a=b"

"""The case worker's caseload page: sorted by the column asked (`aria-sort` saying which),
paged, and holding only the worker's own open cases."""

from __future__ import annotations

import datetime as dt
import re

from services.console.caseload_page import PAGE_SIZE
from tests.conftest import empty_log_and_read_models
from tests.console.support import LANTERN_WORKER
from tests.console.test_console_supervisor import project

ROW = re.compile(r'<a href="/console/cases/([0-9a-f-]+)">')


def intake_on(days_ago: int) -> str:
    return (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days_ago)).isoformat()


async def test_the_caseload_is_sorted_by_the_column_asked_and_paged(browser, runtime):
    await empty_log_and_read_models(runtime.pool)
    opened = {}  # case id -> days open
    async with browser() as worker, browser() as elsewhere:
        await worker.sign_in()
        for days in range(1, PAGE_SIZE + 3):
            case_id = await worker.open_case(
                **{
                    "intake.intake_on": intake_on(days),
                    "victim_status.determined_on": intake_on(days),
                }
            )
            opened[case_id] = days
        await elsewhere.sign_in(LANTERN_WORKER)
        foreign = await elsewhere.open_case()
        await project(runtime)
        first = await worker.client.get("/console/", params={"sort": "days_open", "order": "asc"})
        second = await worker.client.get(
            "/console/", params={"sort": "days_open", "order": "asc", "page": "2"}
        )
        assert first.status_code == second.status_code == 200
        assert 'aria-sort="ascending"' in first.text
        assert "page 1 of 2" in first.text and 'rel="next"' in first.text
        rows = ROW.findall(first.text) + ROW.findall(second.text)
        assert len(ROW.findall(first.text)) == PAGE_SIZE
        assert rows == sorted(opened, key=opened.get)  # every case once, fewest days first
        assert foreign not in rows
        newest_last = await worker.client.get(
            "/console/", params={"sort": "days_open", "order": "desc"}
        )
        assert ROW.findall(newest_last.text)[0] == max(opened, key=opened.get)
        unknown = await worker.client.get("/console/", params={"sort": "preferred_name"})
        assert unknown.status_code == 400  # a column that is not offered is not sorted on

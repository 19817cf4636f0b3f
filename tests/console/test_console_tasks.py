"""The caseload page's follow-up tasks over HTTP: a worker's overdue tasks listed, completed
and snoozed from their buttons (a day out of bounds said in a sentence), another
organisation's worker refused; the supervisor's team page counts overdue tasks per worker;
the Spanish page. Cases are opened on the intake day 2026-01-05, so each has a "no contact"
task long overdue."""

from __future__ import annotations

import datetime as dt
import re

from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.bootstrap import Runtime
from tests.conftest import empty_log_and_read_models
from tests.console.support import HARBOR_SUPERVISOR, LANTERN_WORKER, csrf_token
from tests.console.test_console_supervisor import chart_numbers, table_numbers

COMPLETE = re.compile(r'action="/console/tasks/([0-9a-f-]{36})/complete"')


async def project(runtime: Runtime) -> None:
    factories = projection_factories(runtime.keyring, runtime.store)
    for name in ("cases", "tasks"):
        await rebuild(runtime.store, runtime.pool, factories[name])


async def test_a_worker_completes_and_snoozes_tasks_from_the_caseload_page(browser, runtime):
    await empty_log_and_read_models(runtime.pool)
    async with browser() as worker:
        await worker.sign_in()
        first, second = await worker.open_case(), await worker.open_case()
        await project(runtime)
        home = (await worker.client.get("/console/")).text
        assert "My tasks" in home and "No recent contact" in home and "overdue" in home
        tasks = COMPLETE.findall(home)
        assert len(tasks) == 2 and {first, second} <= set(
            re.findall(r"/console/cases/([0-9a-f-]{36})", home)
        )
        async with browser() as supervisor:
            await supervisor.sign_in(HARBOR_SUPERVISOR)
            team = (await supervisor.client.get("/console/team")).text
            assert "Overdue follow-up tasks per worker" in team
            assert table_numbers(team, "tasks") == chart_numbers(team, "tasks")
            assert [n for _, n in table_numbers(team, "tasks")] == [2]

        async with browser() as stranger:  # another organisation's worker knows the id
            await stranger.sign_in(LANTERN_WORKER)
            their_home = await stranger.client.get("/console/")
            refused = await stranger.client.post(
                f"/console/tasks/{tasks[0]}/complete",
                data={"csrf_token": csrf_token(their_home.text)},
            )
            assert refused.status_code == 404  # the console's not-found page

        token = csrf_token(home)
        done = await worker.client.post(
            f"/console/tasks/{tasks[0]}/complete", data={"csrf_token": token}
        )
        assert done.status_code == 303 and done.headers["location"] == "/console/?task=done"
        await project(runtime)
        home = (await worker.client.get(done.headers["location"])).text
        assert "The task is done." in home and COMPLETE.findall(home) == [tasks[1]]

        snooze = f"/console/tasks/{tasks[1]}/snooze"
        today = dt.datetime.now(dt.UTC).date()
        refused = await worker.client.post(
            snooze, data={"csrf_token": token, "until": today.isoformat()}
        )
        assert refused.headers["location"] == "/console/?task=snooze-refused"
        page = (await worker.client.get(refused.headers["location"])).text
        assert "Not snoozed: choose a day after today" in page
        until = (today + dt.timedelta(days=3)).isoformat()
        snoozed = await worker.client.post(snooze, data={"csrf_token": token, "until": until})
        assert snoozed.headers["location"] == "/console/?task=snoozed"
        await project(runtime)
        home = (await worker.client.get(snoozed.headers["location"])).text
        assert "No follow-up task is due." in home and COMPLETE.findall(home) == []

        await worker.client.post(
            "/console/language",
            data={"csrf_token": csrf_token(home), "language": "es", "next": "/console/"},
        )
        spanish = (await worker.client.get("/console/")).text
        assert "Mis tareas" in spanish and "No hay ninguna tarea de seguimiento" in spanish

"""Activities in the console: the form records an outreach, training or technical-assistance
activity (sectors counted, the area as state and county codes), the organisation's list shows
it, and a supervisor's page adds the summary by month, kind and sector. All synthetic."""

from __future__ import annotations

from projections.catalog import projection_factories
from projections.rebuild import rebuild
from tests.conftest import empty_log_and_read_models
from tests.console.support import (
    HARBOR_OUTREACH,
    HARBOR_REPORTER,
    HARBOR_SUPERVISOR,
    assert_security_headers,
    hidden_fields,
)

ACTION = "/console/activities"


def activity(**overrides: str) -> dict[str, str]:
    return {
        "held_on": "2026-03-04",
        "kind": "training",
        "topic": "Recognising labour trafficking indicators",
        "audience.law_enforcement": "24",
        "audience.health_care": "9",
        "hours": "3.5",
        "delivery": "in_person",
        "languages": "en, es",
        "state": "IL",
        "counties": "17031 17043",
        **overrides,
    }


async def build_activities(runtime) -> None:  # noqa: ANN001
    factories = projection_factories(runtime.keyring, runtime.store)
    await rebuild(runtime.store, runtime.pool, factories["activities"])


async def test_an_activity_is_recorded_listed_and_summarised(browser, runtime) -> None:  # noqa: ANN001
    await empty_log_and_read_models(runtime.pool)
    async with browser() as outreach, browser() as supervisor:
        await outreach.sign_in(HARBOR_OUTREACH)
        form = await outreach.client.get(f"{ACTION}/new")
        assert_security_headers(form)
        assert 'name="audience.other_service_providers"' in form.text
        data = {**hidden_fields(form.text, ACTION), **activity()}
        first = await outreach.client.post(ACTION, data=data)
        again = await outreach.client.post(ACTION, data=data)  # the same form, sent twice
        assert first.status_code == again.status_code == 303, first.text
        count = await runtime.pool.fetchval(
            "SELECT count(*) FROM haven.events WHERE event_type = 'outreach.activity_recorded'"
        )
        assert count == 1
        await build_activities(runtime)
        listed = await outreach.client.get(first.headers["location"])
        assert listed.status_code == 200
        assert "The activity is recorded" in listed.text
        assert "2026-03-04" in listed.text and "17031, 17043" in listed.text
        assert "Activities, participants and hours by month" not in listed.text
        await supervisor.sign_in(HARBOR_SUPERVISOR)
        summary = await supervisor.client.get(
            ACTION, params={"from": "2026-01-01", "to": "2026-06-30"}
        )
        assert summary.status_code == 200
        assert "Activities, participants and hours by month" in summary.text
        assert 'id="chart-participants"' in summary.text
        assert "<td>2026-03</td>" in summary.text and "Law enforcement" in summary.text
        spanish = await supervisor.client.post(
            "/console/language",
            data={"csrf_token": hidden_fields(summary.text, "/console/language")["csrf_token"],
                  "language": "es", "next": ACTION},
        )  # fmt: skip
        assert spanish.status_code == 303
        translated = await supervisor.client.get(ACTION)
        assert "Divulgación, formación y asistencia técnica" in translated.text


async def test_a_refused_activity_names_its_fields(browser, runtime) -> None:  # noqa: ANN001
    await empty_log_and_read_models(runtime.pool)
    async with browser() as user:
        await user.sign_in()
        form = await user.client.get(f"{ACTION}/new")
        hidden = hidden_fields(form.text, ACTION)
        empty = await user.client.post(ACTION, data=hidden)
        assert empty.status_code == 422
        assert 'id="f-held-on-error"' in empty.text and 'id="f-audience-error"' in empty.text
        wrong = await user.client.post(
            ACTION, data={**hidden, **activity(counties="48201", hours="0.3", kind="party")}
        )
        assert wrong.status_code == 422
        for field in ("counties", "hours", "kind"):
            assert f'id="f-{field}-error"' in wrong.text, field
    count = await runtime.pool.fetchval("SELECT count(*) FROM haven.events")
    assert count == 0


async def test_who_may_see_and_record_activities(browser, runtime) -> None:  # noqa: ANN001
    await empty_log_and_read_models(runtime.pool)
    await build_activities(runtime)
    async with browser() as reporter, browser() as supervisor:
        await reporter.sign_in(HARBOR_REPORTER)
        for path in (ACTION, f"{ACTION}/new"):
            refused = await reporter.client.get(path)
            assert refused.status_code == 404, path
        await supervisor.sign_in(HARBOR_SUPERVISOR)
        page = await supervisor.client.get(ACTION)
        assert page.status_code == 200 and "No activity is recorded." in page.text

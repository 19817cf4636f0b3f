"""Screenings in the console: a case worker or outreach staff records one standing alone from
the console's home, or one of a case from its page; the form lists the instrument's items by
indicator domain, the result its rule gives is shown once recorded, the case page lists the
case's screenings and the victim-status form names them. A supervisor never sees a
screening, and an unknown one is the console's 404 page. Every person here is synthetic."""

from __future__ import annotations

import re
import uuid

from domain.case.state import fold
from domain.screening.screening import ScreeningRecorded
from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.console.i18n import translate
from services.screening.instruments import shipped_instruments
from tests.conftest import empty_log_and_read_models
from tests.console.support import (
    HARBOR_OUTREACH,
    HARBOR_SUPERVISOR,
    assert_security_headers,
    hidden_fields,
)

NAME = "Synthetic Wrenfield"
SUMMARY = "/console/screenings/summary"
SCREENING_LINK = re.compile(r"/console/screenings/([0-9a-f-]{36})")


def answers(**items: str) -> dict[str, str]:
    return {
        "screened_on": "2026-02-03",
        "setting": "outreach",
        "minor": "no",
        **{f"item.{item}": answer for item, answer in items.items()},
    }


async def record(user, action: str, form_path: str, **fields: str):  # noqa: ANN001, ANN201
    form = await user.client.get(form_path)
    assert form.status_code == 200, form.text
    return await user.client.post(action, data={**hidden_fields(form.text, action), **fields})


async def test_the_form_lists_the_items_by_domain_and_shows_the_result(browser, runtime) -> None:  # noqa: ANN001
    await empty_log_and_read_models(runtime.pool)
    (instrument,) = [i for i in shipped_instruments() if i.id == "ilo-forced-labour"]
    async with browser() as user:
        await user.sign_in()
        home = await user.client.get("/console/")
        assert 'href="/console/screenings/new"' in home.text
        form = await user.client.get("/console/screenings/new")
        assert_security_headers(form)
        legends = re.findall(r"<legend>([^<]+)</legend>", form.text)
        assert legends == [domain.title for domain in instrument.domains]
        for item in instrument.items:
            assert f'name="item.{item.id}"' in form.text
        assert "idempotency_key" in hidden_fields(form.text, "/console/screenings")
        answer = await record(
            user, "/console/screenings", "/console/screenings/new",
            **answers(doc_1="yes", wag_1="no"),
        )  # fmt: skip
        assert answer.status_code == 303, answer.text
        shown = await user.client.get(answer.headers["location"])
        assert shown.status_code == 200
        assert "Result:" in shown.text and "Strong indicators" in shown.text
        assert "None: the screening stands alone" in shown.text
        screening_id = answer.headers["location"].rsplit("/", 1)[1]
        recorded = await runtime.store.read_stream("org-harbor", uuid.UUID(screening_id))
        event = recorded[0].event
        assert isinstance(event, ScreeningRecorded)
        assert (event.case_id, event.result, event.screened_by) == (
            None, "strong_indicators", "worker-harbor-intake-1",
        )  # fmt: skip


async def test_a_form_sent_twice_records_once_and_a_refusal_names_its_field(
    browser, runtime
) -> None:  # noqa: ANN001, E501
    await empty_log_and_read_models(runtime.pool)
    async with browser() as user:
        await user.sign_in(HARBOR_OUTREACH)
        home = await user.client.get("/console/")
        assert home.text.count('href="/console/screenings/new"') == 2  # the header's, the page's
        form = await user.client.get("/console/screenings/new")
        data = {**hidden_fields(form.text, "/console/screenings"), **answers(dec_1="yes")}
        first = await user.client.post("/console/screenings", data=data)
        second = await user.client.post("/console/screenings", data=data)
        assert first.status_code == second.status_code == 303
        assert first.headers["location"] == second.headers["location"]
        shown = await user.client.get(first.headers["location"])
        assert "Indicators present" in shown.text
        future = await user.client.post(
            "/console/screenings",
            data={**data, "idempotency_key": "k2", "screened_on": "2999-01-01"},
        )
        assert future.status_code == 422
        assert 'id="f-screened-on-error"' in future.text
        no_token = {k: v for k, v in data.items() if k != "csrf_token"}
        refused = await user.client.post("/console/screenings", data=no_token)
        assert refused.status_code == 403
    count = await runtime.pool.fetchval(
        "SELECT count(*) FROM haven.events WHERE event_type = 'screening.recorded'"
    )
    assert count == 1


async def test_a_screening_of_a_case_is_listed_on_it_and_named_by_its_victim_status(
    browser,
    runtime,  # noqa: ANN001
) -> None:
    await empty_log_and_read_models(runtime.pool)
    async with browser() as user:
        await user.sign_in()
        case_id = await user.open_case(NAME)
        page = await user.client.get(f"/console/cases/{case_id}")
        assert "No screening of this case is recorded." in page.text
        assert f'href="/console/cases/{case_id}/screenings/new"' in page.text
        action = f"/console/cases/{case_id}/screenings"
        answer = await record(
            user, action, f"{action}/new", **answers(setting="shelter_intake", mov_1="yes")
        )
        assert answer.status_code == 303, answer.text
        screening_id = answer.headers["location"].rsplit("/", 1)[1]
        shown = await user.client.get(answer.headers["location"])
        assert f'href="/console/cases/{case_id}"' in shown.text
        page = await user.client.get(f"/console/cases/{case_id}")
        assert SCREENING_LINK.findall(page.text) == [screening_id]
        assert f'name="screening_ids.{screening_id}"' in page.text
        form_action = f"/console/cases/{case_id}/forms/victim-status"
        determined = await user.client.post(
            form_action,
            data={
                **hidden_fields(page.text, form_action + "#form-victim-status"),
                "status": "confirmed",
                "determined_on": "2026-02-04",
                "determined_by": "worker-harbor-intake-1",
                f"screening_ids.{screening_id}": "yes",
            },
        )
        assert determined.status_code == 303, determined.text
        elsewhere = str(uuid.uuid4())
        refused = await user.client.post(
            form_action,
            data={
                **hidden_fields(
                    (await user.client.get(f"/console/cases/{case_id}")).text,
                    form_action + "#form-victim-status",
                ),
                "status": "confirmed",
                "determined_on": "2026-02-04",
                "determined_by": "worker-harbor-intake-1",
                f"screening_ids.{elsewhere}": "yes",
            },
        )
        assert refused.status_code == 422
    stream = await runtime.store.read_stream("org-harbor", uuid.UUID(case_id))
    state = fold((r.version, r.event) for r in stream)
    assert state.victim_status.screening_ids == (screening_id,)


async def test_a_supervisor_never_sees_a_screening_and_an_unknown_one_is_not_found(
    browser,
    runtime,  # noqa: ANN001
) -> None:
    await empty_log_and_read_models(runtime.pool)
    async with browser() as worker, browser() as supervisor, browser() as other:
        await worker.sign_in()
        answer = await record(
            worker, "/console/screenings", "/console/screenings/new", **answers(doc_1="yes")
        )
        location = answer.headers["location"]
        await supervisor.sign_in(HARBOR_SUPERVISOR)
        assert (
            'href="/console/screenings/new"' not in (await supervisor.client.get("/console/")).text
        )
        for path in (location, "/console/screenings/new"):
            seen = await supervisor.client.get(path)
            assert seen.status_code == 404 and "Strong indicators" not in seen.text, path
            assert_security_headers(seen)
        await other.sign_in("2")  # a case worker of another organisation
        assert (await other.client.get(location)).status_code == 404
        unknown = await worker.client.get(f"/console/screenings/{uuid.uuid4()}")
        assert unknown.status_code == 404
        assert translate("en", "Nothing here that you may see") in unknown.text


async def test_a_screening_of_a_case_is_read_as_the_case_is(browser, runtime) -> None:  # noqa: ANN001
    """Its page and the case page record the read in the case's access log (part
    `screening`); a worker of another organisation can neither read it nor screen the case."""
    await empty_log_and_read_models(runtime.pool)
    async with browser() as user, browser() as other:
        await user.sign_in()
        case_id = await user.open_case(NAME)
        action = f"/console/cases/{case_id}/screenings"
        answer = await record(user, action, f"{action}/new", **answers(vio_1="yes"))
        location = answer.headers["location"]
        assert (await user.client.get(location)).status_code == 200
        parts = await runtime.pool.fetch(
            "SELECT part FROM haven.access_records WHERE case_id = $1", uuid.UUID(case_id)
        )
        assert "screening" in {row["part"] for row in parts}
        await other.sign_in("2")
        for path in (location, f"{action}/new"):
            refused = await other.client.get(path)
            assert refused.status_code == 404 and NAME not in refused.text, path
        form = await other.client.get("/console/screenings/new")
        posted = await other.client.post(
            action, data={**hidden_fields(form.text, "/console/screenings"), **answers()}
        )
        assert posted.status_code == 404
    count = await runtime.pool.fetchval(
        "SELECT count(*) FROM haven.events WHERE event_type = 'screening.recorded'"
    )
    assert count == 1


async def test_a_supervisor_sees_the_counts_and_a_case_worker_does_not(browser, runtime) -> None:  # noqa: ANN001
    await empty_log_and_read_models(runtime.pool)
    async with browser() as worker, browser() as supervisor:
        await worker.sign_in()
        for items in ({"doc_1": "yes"}, {"dec_1": "yes"}, {}):
            answer = await record(
                worker, "/console/screenings", "/console/screenings/new", **answers(**items)
            )
            assert answer.status_code == 303
        screening_id = answer.headers["location"].rsplit("/", 1)[1]
        assert (await worker.client.get(SUMMARY)).status_code == 404
        factories = projection_factories(runtime.keyring, runtime.store)
        await rebuild(runtime.store, runtime.pool, factories["screenings"])
        await supervisor.sign_in(HARBOR_SUPERVISOR)
        counts = await supervisor.client.get(
            SUMMARY, params={"from": "2026-01-01", "to": "2026-12-31"}
        )
        assert counts.status_code == 200
        assert_security_headers(counts)
        assert "3 screenings in the months from 2026-01-01 to 2026-12-31." in counts.text
        results = counts.text.split('id="table-results"', 1)[1].split("</table>", 1)[0]
        for label, number in (("Strong indicators", 1), ("Indicators present", 1),
                              ("No indicators", 1), ("Confirmed", 0)):  # fmt: skip
            assert re.search(rf"{label}[^<]*</th><td>{number}</td>", results), label
        assert '<th scope="row">2026-02</th><td>3</td>' in counts.text
        assert (
            screening_id not in counts.text
            and "/console/screenings/" + screening_id[:8] not in counts.text
        )

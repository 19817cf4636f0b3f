"""Finding a client in the console: names on the caseload, the search form (a POST, in
English and Spanish), and the intake's likely-duplicate page."""

from __future__ import annotations

from projections.catalog import projection_factories
from projections.rebuild import rebuild
from tests.conftest import empty_log_and_read_models
from tests.console.support import (
    HARBOR_PRIVACY,
    LANTERN_WORKER,
    assert_security_headers,
    csrf_token,
    hidden_fields,
    intake,
)

CANARY = "Zephyrine Quillfeather"  # synthetic
BORN = {"identity.date_of_birth": "1991-02-03", "identity.aliases": "Zee"}


async def project(runtime) -> None:
    factories = projection_factories(runtime.keyring, runtime.store)
    for name in ("cases", "case_finder", "tasks"):  # the caseload page shows tasks too
        await rebuild(runtime.store, runtime.pool, factories[name])


async def test_a_worker_sees_names_searches_in_two_languages_and_is_warned_of_a_duplicate(
    browser, runtime
):
    await empty_log_and_read_models(runtime.pool)
    async with browser() as worker, browser() as elsewhere:
        await worker.sign_in()
        case_id = await worker.open_case(CANARY, **BORN)
        await elsewhere.sign_in(LANTERN_WORKER)
        await elsewhere.open_case(CANARY, **BORN)
        await project(runtime)

        home = await worker.client.get("/console/")
        assert f'<a href="/console/cases/{case_id}">{CANARY}</a>' in home.text
        assert 'action="/console/search"' in home.text

        async def search(user, **terms: str):
            page = await user.client.get("/console/search")
            return await user.client.post(
                "/console/search", data={"csrf_token": csrf_token(page.text), **terms}
            )

        found = await search(worker, name="zephyrine  QUILLFEATHER", date_of_birth="1991-02-03")
        assert found.status_code == 200
        assert_security_headers(found)
        assert f'<a href="/console/cases/{case_id}">{CANARY}</a>' in found.text
        assert "1 case found" in found.text
        # another organisation's worker, the same name: never our case (control: found above)
        theirs = await search(elsewhere, name=CANARY)
        assert case_id not in theirs.text and "1 case found" in theirs.text
        refused = await search(worker, name="!!!")
        assert refused.status_code == 422 and "A name needs a letter" in refused.text

        again = await worker.client.get("/console/cases/new")
        alike = await worker.client.post(
            "/console/cases",
            data={**hidden_fields(again.text, "/console/cases"), **intake(CANARY.upper(), **BORN)},
        )
        assert alike.status_code == 200 and "Case opened" in alike.text
        assert f'href="/console/cases/{case_id}"' in alike.text

        # the privacy officer sees the caseload and the searches that showed the name
        async with browser() as officer:
            await officer.sign_in(HARBOR_PRIVACY)
            log = await officer.client.get(f"/console/privacy/cases/{case_id}")
            assert log.status_code == 200 and 'id="case-listings"' in log.text
            assert "<td>name, date_of_birth</td>" in log.text and CANARY not in log.text

        # in Spanish
        await worker.client.post(
            "/console/language",
            data={"csrf_token": csrf_token(home.text), "language": "es", "next": "/console/"},
        )
        spanish = await worker.client.get("/console/search")
        assert "Buscar a un cliente" in spanish.text and "Nombre o alias" in spanish.text

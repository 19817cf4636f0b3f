"""The console over HTTP: sign-in and sessions, CSRF, the headers of every page, and case
pages and forms going through the same use cases, authorisation and access log as the API."""

from __future__ import annotations

import uuid

import pytest

from services.bootstrap import Runtime
from tests.api.conftest import access_records_refused
from tests.console.support import (
    HARBOR_SUPERVISOR,
    LANTERN_WORKER,
    assert_security_headers,
    csrf_token,
    hidden_fields,
    intake,
)

NAME = "Synthetic Riverstone"  # a survivor's name, as far as the pages know


async def access_parts(runtime: Runtime, case_id: str) -> list[tuple[str, str]]:
    rows = await runtime.pool.fetch(
        "SELECT actor_id, part FROM haven.access_records WHERE case_id = $1 ORDER BY record_id",
        uuid.UUID(case_id),
    )
    return [(row["actor_id"], row["part"]) for row in rows]


async def test_the_sign_in_page_lists_the_demo_people_and_signing_in_starts_a_session(browser):
    async with browser() as user:
        page = await user.client.get("/console/sign-in")
        assert page.status_code == 200
        assert "worker-harbor-intake-1" in page.text and '<html lang="en">' in page.text
        signed = await user.sign_in()
        assert signed.status_code == 303 and signed.headers["location"] == "/console/"
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "Path=/console" in cookie
        assert "samesite=strict" in cookie.lower()
        assert "Secure" not in cookie  # plain HTTP here
        caseload = await user.client.get("/console/")
        assert caseload.status_code == 200
        assert (
            "Signed in as worker-harbor-intake-1" in caseload.text and "Sign out" in caseload.text
        )


async def test_the_session_cookie_is_secure_over_tls(browser):
    async with browser("https://testserver") as user:
        signed = await user.sign_in()
        assert "Secure" in signed.headers["set-cookie"]


async def test_a_page_without_a_session_sends_the_browser_to_sign_in(browser):
    async with browser() as user:
        for path in ("/console/", "/console/cases/new", f"/console/cases/{uuid.uuid4()}"):
            answer = await user.client.get(path)
            assert answer.status_code == 303 and answer.headers["location"] == "/console/sign-in"


async def test_signing_out_ends_the_session(browser):
    async with browser() as user:
        await user.sign_in()
        page = await user.client.get("/console/")
        out = await user.client.post(
            "/console/sign-out", data={"csrf_token": csrf_token(page.text)}
        )
        assert out.status_code == 303
        assert (await user.client.get("/console/")).status_code == 303


async def test_an_idle_session_expires_and_a_used_one_does_not(browser, clock):
    async with browser() as user:
        await user.sign_in()
        clock.advance(14)
        assert (await user.client.get("/console/")).status_code == 200  # used: the idle restarts
        clock.advance(14)
        assert (await user.client.get("/console/")).status_code == 200
        clock.advance(15.5)  # the default idle timeout is 15 minutes
        expired = await user.client.get("/console/")
        assert expired.status_code == 303 and expired.headers["location"] == "/console/sign-in"


async def test_a_form_without_its_csrf_token_is_refused_and_records_nothing(browser, runtime):
    async with browser() as user:
        await user.sign_in()
        before = await runtime.pool.fetchval("SELECT count(*) FROM haven.streams")
        for token in ({}, {"csrf_token": "forged"}):
            answer = await user.client.post("/console/cases", data={**intake(NAME), **token})
            assert answer.status_code == 403
            assert "This form has expired" in answer.text and NAME not in answer.text
            assert_security_headers(answer)
        out = await user.client.post("/console/sign-out", data={})
        assert out.status_code == 403
        assert await runtime.pool.fetchval("SELECT count(*) FROM haven.streams") == before


async def test_signing_in_needs_the_sign_in_forms_token(browser):
    async with browser() as user:
        await user.client.get("/console/sign-in")
        answer = await user.client.post("/console/sign-in", data={"account": "0"})
        assert answer.status_code == 403


async def test_every_console_response_carries_the_security_headers(browser):
    async with browser() as user:
        responses = [await user.client.get("/console/sign-in")]
        responses.append(await user.sign_in())
        case_id = await user.open_case(NAME)
        for path in (
            "/console/",
            "/console/cases/new",
            f"/console/cases/{case_id}",
            f"/console/cases/{uuid.uuid4()}",
            "/console/screenings/new",
            f"/console/cases/{case_id}/screenings/new",
            f"/console/screenings/{uuid.uuid4()}",
            "/console/activities",
            "/console/activities/new",
            "/console/static/console.css",
            "/console/no-such-page",
        ):
            responses.append(await user.client.get(path))
        for response in responses:
            assert_security_headers(response)
        assert responses[-2].status_code == 200  # the style sheet


async def test_an_unknown_console_address_answers_the_consoles_page_the_api_a_problem(browser):
    async with browser() as user:
        await user.sign_in()
        page = await user.client.get("/console/no-such-page")
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")
        assert "Nothing here that you may see" in page.text and "Sign out" not in page.text
        api = await user.client.get("/v1/no-such-route")  # control: the API's own answer
        assert api.status_code == 404
        assert api.headers["content-type"].startswith("application/problem+json")


async def test_intake_through_the_form_opens_a_case_and_its_page_records_the_access(
    browser, runtime
):
    async with browser() as user:
        await user.sign_in()
        case_id = await user.open_case(NAME)
        page = await user.client.get(f"/console/cases/{case_id}")
        assert page.status_code == 200
        assert NAME in page.text and "</span> Case opened</li>" in page.text
        assert await access_parts(runtime, case_id) == [
            ("worker-harbor-intake-1", "full"),
            ("worker-harbor-intake-1", "history"),
        ]


async def test_a_supervisor_or_another_organisation_cannot_read_the_case(browser, runtime):
    async with browser() as worker:
        await worker.sign_in()
        case_id = await worker.open_case(NAME)
    for account in (HARBOR_SUPERVISOR, LANTERN_WORKER):
        async with browser() as other:
            await other.sign_in(account)
            page = await other.client.get(f"/console/cases/{case_id}")
            assert page.status_code == 404
            assert NAME not in page.text and case_id not in page.text
            assert "Traceback" not in page.text
    assert await access_parts(runtime, case_id) == []


async def test_logging_a_service_goes_through_the_write_path(browser):
    async with browser() as user:
        await user.sign_in()
        case_id = await user.open_case(NAME)
        logged = await user.log_service(case_id)
        assert logged.status_code == 303, logged.text
        page = await user.client.get(f"/console/cases/{case_id}")
        assert "</span> Service delivered</li>" in page.text


async def test_proposing_a_referral_goes_through_the_write_path(browser):
    async with browser() as user:
        await user.sign_in()
        case_id = await user.open_case(NAME)
        page = (await user.client.get(f"/console/cases/{case_id}")).text
        action = f"/console/cases/{case_id}/referrals"
        answer = await user.client.post(
            action,
            data={
                **hidden_fields(page, action),
                "kind": "internal",
                "category": "case_management",
                "recipient": "program-housing",
                "purpose": "service_referral",
                "proposed_on": "2026-01-12",
            },
        )
        assert answer.status_code == 303, answer.text
        page = (await user.client.get(f"/console/cases/{case_id}")).text
        assert "</span> Referral proposed</li>" in page


async def test_a_form_of_a_case_changed_since_gets_the_conflict_page(browser, runtime):
    async with browser() as first, browser() as second:
        await first.sign_in()
        case_id = await first.open_case(NAME)
        await second.sign_in()
        stale = (await second.client.get(f"/console/cases/{case_id}")).text
        assert (await first.log_service(case_id)).status_code == 303  # the case moves on
        answer = await second.log_service(case_id, page=stale)
        assert answer.status_code == 409
        assert "Someone changed this case" in answer.text
        assert f'href="/console/cases/{case_id}"' in answer.text and NAME not in answer.text
        assert_security_headers(answer)
        events = await runtime.pool.fetchval(
            "SELECT count(*) FROM haven.events WHERE stream_id = $1", uuid.UUID(case_id)
        )
        assert events == 2  # opened, and the first worker's service


async def test_a_second_submission_of_the_same_form_records_once(browser):
    async with browser() as user:
        await user.sign_in()
        case_id = await user.open_case(NAME)
        page = (await user.client.get(f"/console/cases/{case_id}")).text
        assert (await user.log_service(case_id, page=page)).status_code == 303
        assert (await user.log_service(case_id, page=page)).status_code == 303
        timeline = (await user.client.get(f"/console/cases/{case_id}")).text
        assert timeline.count("</span> Service delivered</li>") == 1


async def test_invalid_intake_fields_are_named_next_to_the_field(browser, runtime):
    async with browser() as user:
        await user.sign_in()
        form = (await user.client.get("/console/cases/new")).text
        answer = await user.client.post(
            "/console/cases",
            data={
                **hidden_fields(form, "/console/cases"),
                **intake("", **{"intake.intake_on": "05/01/2026"}),
            },
        )
        assert answer.status_code == 422
        assert 'id="f-identity-preferred-name-error" role="alert"' in answer.text
        answer = await user.client.post(
            "/console/cases",
            data={
                **hidden_fields(form, "/console/cases"),
                **intake(NAME, **{"intake.intake_on": "05/01/2026"}),
            },
        )
        assert answer.status_code == 422
        assert 'id="f-intake-intake-on-error" role="alert">Enter a date' in answer.text
        assert 'aria-invalid="true"' in answer.text


async def test_an_access_that_cannot_be_recorded_shows_nothing_of_the_case(browser, runtime):
    async with browser() as user:
        await user.sign_in()
        case_id = await user.open_case(NAME)
        async with access_records_refused(runtime.pool, case_id):
            page = await user.client.get(f"/console/cases/{case_id}")
        assert page.status_code == 503
        assert NAME not in page.text and "Traceback" not in page.text
        assert_security_headers(page)


@pytest.fixture
def oidc_settings(settings):
    import msgspec

    return msgspec.structs.replace(
        settings,
        oidc_issuer="https://id.example",
        oidc_audience="haven",
        oidc_jwks_url="https://id.example/jwks",
    )


async def test_sign_in_is_offered_only_where_the_local_issuer_is_configured(
    runtime, verifier, oidc_settings
):
    from services.api.app import create_app
    from tests.api.conftest import api_client

    app = create_app(runtime=runtime, verifier=verifier, settings=oidc_settings)
    async with api_client(app, lifespan=False) as client:
        page = await client.get("/console/sign-in")
        assert page.status_code == 200
        assert 'name="account"' not in page.text and "external identity provider" in page.text
        assert (await client.post("/console/sign-in", data={"account": "0"})).status_code == 403


async def test_a_domain_rule_refusing_a_form_is_shown_above_it(browser, runtime):
    async with browser() as user:
        await user.sign_in()
        case_id = await user.open_case(NAME)
        page = (await user.client.get(f"/console/cases/{case_id}")).text
        action = f"/console/cases/{case_id}/referrals"
        answer = await user.client.post(
            action,
            data={
                **hidden_fields(page, action),
                "kind": "external",
                "category": "legal_immigration",
                "recipient": "org-example-legal-aid",
                "purpose": "service_referral",
                "proposed_on": "2026-01-12",
            },
        )
        assert answer.status_code == 422
        assert 'role="alert">Not recorded: an external referral' in answer.text
        events = await runtime.pool.fetchval(
            "SELECT count(*) FROM haven.events WHERE stream_id = $1", uuid.UUID(case_id)
        )
        assert events == 1


async def test_the_session_store_names_no_cookie_and_holds_no_case_content(browser, data_dir):
    async with browser() as user:
        await user.sign_in()
        cookie = user.client.cookies["haven_console"]
        case_id = await user.open_case(NAME)
        await user.client.get(f"/console/cases/{case_id}")
        store = data_dir / "console-sessions"
        assert store.stat().st_mode & 0o777 == 0o700
        files = [path for path in store.rglob("*") if path.is_file()]
        assert files
        for path in files:
            assert cookie not in path.name
            content = path.read_bytes()
            assert cookie.encode() not in content and NAME.encode() not in content

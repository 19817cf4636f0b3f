"""The retention policy over HTTP and its run (`services.retention`), on the real app, event
store and PostgreSQL: the policy set and read by role with problems for bad input; a dry run
that changes nothing; a run that erases exactly the closed cases past the policy, through the
privacy officer's erasure, and nothing more when run again; a case reopened after the listing
kept, also when the reopening commits while the erasure waits for the case. "Today" is
injected; every value is synthetic."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid

import asyncpg
import httpx
import pytest

from domain.case import events as ev
from domain.event import EventMetadata
from domain.retention import MIN_ERASE_AFTER_DAYS, RetentionPolicy
from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.api.cases.schemas.examples import CLOSE_CASE_EXAMPLE, REOPEN_CASE_EXAMPLE
from services.bootstrap import Runtime
from services.identity import LocalIssuer
from services.retention.run import (
    RETENTION_ACTOR,
    due_cases,
    erase_due,
    retention_daily,
    run_retention,
    seconds_to_next_day,
)
from tests.api.test_case_routes import assert_problem, open_case, with_headers
from tests.conftest import empty_log_and_read_models, eventually

ORG, OTHER_ORG, TEAM = "org-retention", "org-retention-other", "team-north"
POLICY = RetentionPolicy(erase_after_days=365)
TODAY = dt.date(2027, 2, 10)  # closed before 2026-02-10: past the policy
OLD, RECENT = "2026-01-20", "2026-03-02"


class People:
    def __init__(self, issuer: LocalIssuer) -> None:
        def mint(user: str, roles: list[str], org: str = ORG) -> dict[str, str]:
            return {"Authorization": f"Bearer {issuer.mint(user, org, roles, team=TEAM)}"}

        self.worker = mint("worker-1", ["caseworker"])
        self.privacy = mint("privacy-1", ["privacy_officer"])
        self.admin = mint("admin-1", ["admin"])
        self.other_admin = mint("admin-9", ["admin"], org=OTHER_ORG)


@pytest.fixture
def people(issuer: LocalIssuer) -> People:
    return People(issuer)


async def closed_case(cases: httpx.AsyncClient, people: People, closed_on: str) -> str:
    case_id = await open_case(cases, people.worker)
    body = {**CLOSE_CASE_EXAMPLE, "closed_on": closed_on}
    headers = with_headers(people.worker, if_match='"1"')
    response = await cases.post(f"/v1/cases/{case_id}/closure", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return case_id


async def reopen(cases: httpx.AsyncClient, people: People, case_id: str, version: int) -> None:
    response = await cases.post(
        f"/v1/cases/{case_id}/reopening",
        json=REOPEN_CASE_EXAMPLE,
        headers=with_headers(people.worker, if_match=f'"{version}"'),
    )
    assert response.status_code == 200, response.text


async def project(runtime: Runtime) -> None:
    await rebuild(
        runtime.store, runtime.pool, projection_factories(runtime.keyring, runtime.store)["cases"]
    )


async def shredded(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM haven.streams WHERE wrapped_key IS NULL"))


async def set_policy(cases: httpx.AsyncClient, people: People, days: int = 365) -> None:
    response = await cases.put(
        "/v1/retention-policy", json={"erase_after_days": days}, headers=people.admin
    )
    assert response.status_code == 200, response.text


async def readable(cases: httpx.AsyncClient, people: People, case_id: str) -> int:
    return (await cases.get(f"/v1/cases/{case_id}", headers=people.worker)).status_code


# -- the policy ------------------------------------------------------------------------------------


async def test_an_administrator_sets_the_policy_and_others_read_or_are_refused(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    await empty_log_and_read_models(runtime.pool)
    url = "/v1/retention-policy"
    none = await cases.get(url, headers=people.admin)
    assert none.status_code == 200
    assert none.json() == {
        "organisation_id": ORG,
        "erase_after_days": None,
        "set_by": None,
        "set_at": None,
    }
    for refused in (people.worker,):
        assert_problem(await cases.get(url, headers=refused), 403, "forbidden")
    for refused in (people.worker, people.privacy):
        put = await cases.put(url, json={"erase_after_days": 400}, headers=refused)
        assert_problem(put, 403, "forbidden")

    short = await cases.put(url, json={"erase_after_days": 30}, headers=people.admin)
    body = assert_problem(short, 422, "validation-error")
    assert [e["pointer"] for e in body["errors"]] == ["/erase_after_days"]
    assert str(MIN_ERASE_AFTER_DAYS) in body["errors"][0]["detail"]
    for bad in ({"erase_after_days": "a year"}, {}, {"erase_after_days": 400, "extra": 1}):
        answer = await cases.put(url, json=bad, headers=people.admin)
        assert answer.status_code in (400, 422), answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert (await cases.get(url, headers=people.admin)).json()["erase_after_days"] is None

    await set_policy(cases, people, 400)
    read = (await cases.get(url, headers=people.privacy)).json()
    assert (read["organisation_id"], read["erase_after_days"], read["set_by"]) == (
        ORG,
        400,
        "admin-1",
    )
    assert read["set_at"] is not None
    # another organisation's administrator sees their own (absent) policy, not this one
    other = (await cases.get(url, headers=people.other_admin)).json()
    assert (other["organisation_id"], other["erase_after_days"]) == (OTHER_ORG, None)


# -- the run ---------------------------------------------------------------------------------------


async def test_a_run_erases_exactly_the_closed_cases_past_the_policy_once(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    await empty_log_and_read_models(runtime.pool)
    old = await closed_case(cases, people, OLD)
    recent = await closed_case(cases, people, RECENT)  # control: closed within the policy
    still_open = await open_case(cases, people.worker)  # control: open cases are kept
    await set_policy(cases, people)
    await project(runtime)

    dry = await run_retention(runtime, TODAY, dry_run=True)
    assert [(o.case.case_id, o.case.closed_on, o.erased) for o in dry] == [
        (uuid.UUID(old), dt.date(2026, 1, 20), None)
    ]
    assert await shredded(runtime.pool) == 0  # the dry run changed nothing
    assert await readable(cases, people, old) == 200

    assert await run_retention(runtime, TODAY, organisation_id=OTHER_ORG) == []  # no policy
    ran = await run_retention(runtime, TODAY)
    assert [(o.case.case_id, o.erased) for o in ran] == [(uuid.UUID(old), True)]
    assert await shredded(runtime.pool) == 1
    assert_problem(await cases.get(f"/v1/cases/{old}", headers=people.worker), 404, "not-found")
    assert [await readable(cases, people, c) for c in (recent, still_open)] == [200, 200]
    erasure = await runtime.pool.fetch(
        "SELECT actor_id, role, basis, reason FROM haven.access_records "
        "WHERE tenant_id = $1 AND case_id = $2 AND part = 'erasure'",
        ORG,
        uuid.UUID(old),
    )
    assert [tuple(r) for r in erasure] == [
        (RETENTION_ACTOR, "privacy_officer", "privacy-review", "retention-policy")
    ]

    assert await run_retention(runtime, TODAY) == []  # a second run erases nothing more
    assert await shredded(runtime.pool) == 1


async def test_a_case_reopened_after_the_listing_is_kept(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    await empty_log_and_read_models(runtime.pool)
    case_id = await closed_case(cases, people, OLD)
    await set_policy(cases, people)
    await project(runtime)
    [listed] = await due_cases(runtime.pool, ORG, POLICY, TODAY)
    assert listed.case_id == uuid.UUID(case_id)

    await reopen(cases, people, case_id, 2)
    assert await erase_due(runtime, listed, POLICY, TODAY) is False
    assert await shredded(runtime.pool) == 0
    assert await readable(cases, people, case_id) == 200


async def test_a_reopening_that_commits_while_the_erasure_waits_keeps_the_case(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    """The erasure loads the case while a reopening is appended but not committed, so its
    condition holds; inside its transaction it waits for the case's head, and finds the
    reopening there. Control: without the reopening the same listing is erased."""
    await empty_log_and_read_models(runtime.pool)
    kept = await closed_case(cases, people, OLD)
    erased = await closed_case(cases, people, OLD)
    await set_policy(cases, people)
    await project(runtime)
    listed = {c.case_id: c for c in await due_cases(runtime.pool, ORG, POLICY, TODAY)}

    async with runtime.store.transaction() as conn:
        await runtime.store.append(
            ORG,
            uuid.UUID(kept),
            2,
            [ev.CaseReopened(reopened_on=dt.date(2026, 3, 10))],
            EventMetadata(actor_id="worker-1"),
            connection=conn,
        )
        erasing = asyncio.create_task(erase_due(runtime, listed[uuid.UUID(kept)], POLICY, TODAY))

        async def waiting_for_the_head() -> bool:
            return bool(
                await runtime.pool.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE '%FOR UPDATE%' AND datname = current_database()"
                )
            )

        await eventually(waiting_for_the_head)
    assert await erasing is False
    assert await readable(cases, people, kept) == 200
    assert await erase_due(runtime, listed[uuid.UUID(erased)], POLICY, TODAY) is True
    assert await shredded(runtime.pool) == 1


async def test_the_worker_s_daily_run_erases_on_its_clock_s_day(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    await empty_log_and_read_models(runtime.pool)
    old = await closed_case(cases, people, OLD)
    await set_policy(cases, people)
    await project(runtime)
    noon = dt.datetime(2027, 2, 10, 12, tzinfo=dt.UTC)
    assert seconds_to_next_day(noon) == 12 * 3600 + 60  # then a minute past midnight UTC

    daily = asyncio.create_task(retention_daily(runtime, clock=lambda: noon))

    async def erased() -> bool:
        return await shredded(runtime.pool) == 1

    try:
        await eventually(erased)
    finally:
        daily.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await daily
    assert_problem(await cases.get(f"/v1/cases/{old}", headers=people.worker), 404, "not-found")

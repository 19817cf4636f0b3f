"""Screenings over HTTP: recording (standalone and of a case), reading, the instruments, the
supervisors' summary, idempotent retries and refusals. All data is synthetic."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import httpx
import pytest

from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.api.cases.schemas.examples import OPEN_CASE_EXAMPLE
from services.api.screening_routes import SCREENING_EXAMPLE
from services.bootstrap import Runtime
from services.identity import LocalIssuer
from tests.api.conftest import ORG, OTHER_ORG, TEAM, api_client


class Callers:
    def __init__(self, issuer: LocalIssuer, org: str = ORG) -> None:
        def mint(user: str, role: str, org: str = org) -> dict[str, str]:
            return {"Authorization": f"Bearer {issuer.mint(user, org, [role], team=TEAM)}"}

        self.worker = mint("worker-1", "caseworker")
        self.colleague = mint("worker-2", "caseworker")
        self.outreach = mint("outreach-1", "outreach")
        self.outreach_2 = mint("outreach-2", "outreach")
        self.stranger = mint("outreach-9", "outreach", org=OTHER_ORG)
        self.supervisor = mint("supervisor-1", "supervisor")
        self.reporter = mint("reporter-1", "reporter")
        self.admin = mint("admin-1", "admin")
        self.privacy = mint("privacy-1", "privacy_officer")


@pytest.fixture
def callers(issuer: LocalIssuer) -> Callers:
    return Callers(issuer)


@pytest.fixture
async def client(make_app: Any) -> Any:
    async with api_client(make_app(), lifespan=False) as test_client:
        yield test_client


def body(**changes: Any) -> dict[str, Any]:
    value = copy.deepcopy(SCREENING_EXAMPLE)
    value.update(changes)
    return value


async def record(client: httpx.AsyncClient, headers: dict[str, str], **changes: Any) -> str:
    response = await client.post("/v1/screenings", json=body(**changes), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["screening_id"]


async def open_case(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.post("/v1/cases", json=OPEN_CASE_EXAMPLE, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["case_id"]


async def test_outreach_staff_record_a_standalone_screening_and_read_it_back(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    response = await client.post("/v1/screenings", json=body(), headers=callers.outreach)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert set(answer) == {"screening_id", "version"}
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"] == f"/v1/screenings/{answer['screening_id']}"
    read = await client.get(response.headers["location"], headers=callers.outreach)
    assert read.status_code == 200, read.text
    shown = read.json()
    assert shown["result"] == "strong_indicators"  # doc_1 is a strong indicator by itself
    assert shown["screened_by"] == "outreach-1" and shown["case_id"] is None
    assert shown["instrument_id"] == "ilo-forced-labour" and shown["instrument_version"] == 1
    assert [i["item"] for i in shown["indicators"]] == ["doc_1", "mov_1", "sex_1", "wag_1"]


async def test_a_minor_in_commercial_sex_is_confirmed(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    screening = await record(
        client, callers.worker, minor="yes", indicators=[{"item": "sex_1", "answer": "yes"}]
    )
    read = await client.get(f"/v1/screenings/{screening}", headers=callers.worker)
    assert read.json()["result"] == "confirmed"


async def test_a_standalone_screening_is_read_by_who_recorded_it_only(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    screening = await record(client, callers.outreach)
    for other in (callers.outreach_2, callers.worker, callers.stranger):
        response = await client.get(f"/v1/screenings/{screening}", headers=other)
        assert response.status_code == 404
    for refused in (callers.supervisor, callers.reporter, callers.admin, callers.privacy):
        response = await client.get(f"/v1/screenings/{screening}", headers=refused)
        assert response.status_code == 403
        assert response.headers["content-type"].startswith("application/problem+json")
    missing = await client.get(f"/v1/screenings/{uuid.uuid4()}", headers=callers.outreach)
    assert missing.status_code == 404


async def test_a_screening_of_a_case_is_authorised_and_read_like_the_case(
    client: httpx.AsyncClient, callers: Callers, runtime: Runtime
) -> None:
    case_id = await open_case(client, callers.worker)
    refused = await client.post(
        "/v1/screenings", json=body(case_id=case_id), headers=callers.colleague
    )
    assert refused.status_code == 403  # not the case's worker (team access off)
    by_outreach = await client.post(
        "/v1/screenings", json=body(case_id=case_id), headers=callers.outreach
    )
    assert by_outreach.status_code == 403
    elsewhere = await client.post(
        "/v1/screenings", json=body(case_id=str(uuid.uuid4())), headers=callers.worker
    )
    assert elsewhere.status_code == 404
    screening = await record(client, callers.worker, case_id=case_id)
    before = await runtime.pool.fetchval(
        "SELECT count(*) FROM haven.access_records WHERE case_id = $1 AND part = 'screening'",
        uuid.UUID(case_id),
    )
    read = await client.get(f"/v1/screenings/{screening}", headers=callers.worker)
    assert read.status_code == 200 and read.json()["case_id"] == case_id
    after = await runtime.pool.fetchval(
        "SELECT count(*) FROM haven.access_records WHERE case_id = $1 AND part = 'screening'",
        uuid.UUID(case_id),
    )
    assert (before, after) == (0, 1)
    assert (
        await client.get(f"/v1/screenings/{screening}", headers=callers.colleague)
    ).status_code == 403


async def test_a_screening_s_id_is_no_case(client: httpx.AsyncClient, callers: Callers) -> None:
    screening = await record(client, callers.worker)
    assert (await client.get(f"/v1/cases/{screening}", headers=callers.worker)).status_code == 404


async def test_a_retry_with_the_same_key_answers_the_first_screening(
    client: httpx.AsyncClient, callers: Callers, runtime: Runtime
) -> None:
    headers = {**callers.worker, "Idempotency-Key": "screening-retry-1"}
    first = await client.post("/v1/screenings", json=body(), headers=headers)
    second = await client.post("/v1/screenings", json=body(), headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    other = await client.post("/v1/screenings", json=body(setting="school"), headers=headers)
    assert other.status_code == 422
    assert other.json()["type"].endswith("idempotency-key-reused")
    count = await runtime.pool.fetchval(
        "SELECT count(*) FROM haven.streams WHERE tenant_id = $1 AND stream_id = $2",
        ORG,
        uuid.UUID(first.json()["screening_id"]),
    )
    assert count == 1
    assert first.json()["screening_id"] == second.json()["screening_id"]


@pytest.mark.parametrize(
    ("changes", "pointer"),
    [
        ({"setting": "rooftop"}, "/setting"),
        ({"minor": "perhaps"}, "/minor"),
        ({"screened_on": "2999-01-01"}, "/screened_on"),
        ({"instrument_id": "no-such-instrument"}, "/instrument_id"),
        ({"instrument_version": 99}, "/instrument_id"),
        ({"indicators": [{"item": "zz_9", "answer": "yes"}]}, "/indicators/0/item"),
        ({"indicators": [{"item": "doc_1", "answer": "maybe"}]}, "/indicators/0/answer"),
        (
            {"indicators": [{"item": "doc_1", "answer": "yes"}, {"item": "doc_1", "answer": "no"}]},
            "/indicators/1/item",
        ),
        ({"case_id": "not-a-uuid"}, "/case_id"),
    ],
)
async def test_bad_values_are_422_naming_the_member_never_the_value(
    client: httpx.AsyncClient, callers: Callers, changes: dict[str, Any], pointer: str
) -> None:
    response = await client.post("/v1/screenings", json=body(**changes), headers=callers.worker)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert pointer in response.text
    for value in changes.values():
        if isinstance(value, str):
            assert value not in response.text


async def test_the_instruments_are_listed_for_those_who_screen_or_supervise(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    for allowed in (callers.worker, callers.outreach, callers.supervisor):
        response = await client.get("/v1/instruments", headers=allowed)
        assert response.status_code == 200
        listed = response.json()["instruments"]
        assert ("ilo-forced-labour", 1) in {(i["id"], i["version"]) for i in listed}
        default = next(i for i in listed if i["id"] == "ilo-forced-labour")
        assert len(default["domains"]) == 12 and default["scoring"]["strong_domains"] == 3
    for refused in (callers.reporter, callers.admin, callers.privacy):
        assert (await client.get("/v1/instruments", headers=refused)).status_code == 403


async def test_supervisors_see_counts_by_result_setting_and_month_only(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime
) -> None:
    callers = Callers(issuer, org=f"org-{uuid.uuid4().hex[:8]}")  # counts of its own
    await record(client, callers.outreach, setting="outreach", screened_on="2026-01-15")
    await record(client, callers.outreach, indicators=[], screened_on="2026-02-03")
    await record(client, callers.worker, screened_on="2026-02-20")
    await record(client, callers.worker, screened_on="2025-06-01")  # outside the range
    await rebuild(
        runtime.store,
        runtime.pool,
        projection_factories(runtime.keyring, runtime.store)["screenings"],
    )
    response = await client.get(
        "/v1/screenings/summary",
        params={"from": "2026-01-01", "to": "2026-03-31"},
        headers=callers.supervisor,
    )
    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["total"] == 3
    assert summary["by_result"] == {
        "no_indicators": 1,
        "indicators_present": 0,
        "strong_indicators": 2,
        "confirmed": 0,
    }
    assert summary["by_setting"]["outreach"] == 1 and summary["by_setting"]["clinic"] == 2
    assert summary["by_month"] == {"2026-01": 1, "2026-02": 2}
    for refused in (callers.worker, callers.outreach, callers.reporter, callers.admin):
        answer = await client.get(
            "/v1/screenings/summary",
            params={"from": "2026-01-01", "to": "2026-03-31"},
            headers=refused,
        )
        assert answer.status_code == 403
    backwards = await client.get(
        "/v1/screenings/summary",
        params={"from": "2026-03-01", "to": "2026-01-01"},
        headers=callers.supervisor,
    )
    assert backwards.status_code == 422


async def test_a_victim_status_names_the_screenings_behind_it(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    case_id = await open_case(client, callers.worker)
    screening = await record(client, callers.worker, case_id=case_id)
    status = {
        "status": "strong_indicators",
        "determined_on": "2026-03-02",
        "determined_by": "worker-1",
        "screening_ids": [screening],
    }
    response = await client.post(
        f"/v1/cases/{case_id}/victim-status",
        json=status,
        headers={**callers.worker, "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    view = (await client.get(f"/v1/cases/{case_id}", headers=callers.worker)).json()
    assert view["victim_status"]["screening_ids"] == [screening]
    other_case = await open_case(client, callers.worker)
    of_other_case = await record(client, callers.worker, case_id=other_case)
    someone_elses = await record(client, callers.outreach)  # standalone, of the organisation
    stranger = await record(client, callers.stranger)  # another organisation's
    for foreign in (of_other_case, stranger, str(uuid.uuid4())):
        refused = await client.post(
            f"/v1/cases/{case_id}/victim-status",
            json={**status, "screening_ids": [someone_elses, foreign]},
            headers={**callers.worker, "If-Match": '"2"'},
        )
        assert refused.status_code == 422, refused.text
        assert "/screening_ids/1" in refused.text and "/screening_ids/0" not in refused.text
        assert foreign not in refused.text
    for wrong in (["not-a-uuid"], [screening, screening]):
        refused = await client.post(
            f"/v1/cases/{case_id}/victim-status",
            json={**status, "screening_ids": wrong},
            headers={**callers.worker, "If-Match": '"2"'},
        )
        assert refused.status_code == 422, refused.text
        assert "not-a-uuid" not in refused.text


async def test_an_organisation_screens_with_its_own_version_scored_by_its_rule(
    make_app: Any, settings: Any, callers: Callers, issuer: LocalIssuer, tmp_path: Any
) -> None:
    import json

    import msgspec

    from tests.services.test_screening_instruments import own_version

    rule = {"indicators_present_items": 2, "strong_items": 1, "strong_domains": 3}
    strict = own_version(scoring=rule)
    (tmp_path / "harbor-2.json").write_text(json.dumps(strict))
    app = make_app(settings=msgspec.structs.replace(settings, instrument_dir=tmp_path))
    lantern = {"Authorization": f"Bearer {issuer.mint('w-7', OTHER_ORG, ['caseworker'])}"}
    own = body(
        instrument_id="harbor-screen",
        instrument_version=2,
        indicators=[{"item": "vul_1", "answer": "yes"}],
    )
    async with api_client(app, lifespan=False) as client:
        listed = (await client.get("/v1/instruments", headers=callers.worker)).json()
        assert ("harbor-screen", 2) in {(i["id"], i["version"]) for i in listed["instruments"]}
        elsewhere = (await client.get("/v1/instruments", headers=lantern)).json()
        assert "harbor-screen" not in {i["id"] for i in elsewhere["instruments"]}
        refused = await client.post("/v1/screenings", json=own, headers=lantern)
        assert refused.status_code == 422 and "/instrument_id" in refused.text
        screening = await record(client, callers.worker, **{k: own[k] for k in own})
        shown = (await client.get(f"/v1/screenings/{screening}", headers=callers.worker)).json()
    assert (shown["instrument_id"], shown["instrument_version"]) == ("harbor-screen", 2)
    assert shown["result"] == "no_indicators"  # one yes: below this version's threshold of two


# Every role on every screening route, by hand (the rows of tests/api/test_authorisation_matrix.py
# for screening.record, screening.summary and instrument.list, sent over HTTP).
ROLE_STATUS = {
    # role:             record  summary  instruments
    "caseworker": (201, 403, 200),
    "supervisor": (403, 200, 200),
    "privacy_officer": (403, 403, 403),
    "reporter": (403, 403, 403),
    "admin": (403, 403, 403),
    "outreach": (201, 403, 200),
}


async def test_every_role_gets_the_answer_the_table_gives(
    client: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime
) -> None:
    from services.identity.claims import ROLES

    assert set(ROLE_STATUS) == ROLES
    await rebuild(
        runtime.store,
        runtime.pool,
        projection_factories(runtime.keyring, runtime.store)["screenings"],
    )
    wrong = []
    for role, (record_status, summary_status, list_status) in ROLE_STATUS.items():
        who = {"Authorization": f"Bearer {issuer.mint(f'{role}-7', ORG, [role], team=TEAM)}"}
        got = (
            (await client.post("/v1/screenings", json=body(), headers=who)).status_code,
            (
                await client.get(
                    "/v1/screenings/summary",
                    params={"from": "2026-01-01", "to": "2026-01-31"},
                    headers=who,
                )
            ).status_code,
            (await client.get("/v1/instruments", headers=who)).status_code,
        )
        if got != (record_status, summary_status, list_status):
            wrong.append(f"{role}: {got}")
    assert wrong == []

"""`GET /v1/access-log`: the privacy officer's view of every recorded access of the
organisation — filtered, paged, never another organisation's."""

from __future__ import annotations

import httpx
import pytest

from services.bootstrap import Runtime
from tests.api.conftest import OTHER_ORG, People
from tests.api.test_case_routes import open_case


@pytest.fixture
def privacy(issuer) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {issuer.mint('privacy-1', 'org-harbor', ['privacy_officer'])}"
    }


async def test_the_privacy_officer_pages_through_the_organisations_accesses(
    cases: httpx.AsyncClient, people: People, privacy: dict[str, str], runtime: Runtime
) -> None:
    case_ids = [await open_case(cases, people.worker) for _ in range(3)]
    for case_id in case_ids:
        for _ in range(2):
            assert (
                await cases.get(f"/v1/cases/{case_id}", headers=people.worker)
            ).status_code == 200
    seen, before = [], None
    while True:
        params = {"actor": "worker-1", "limit": "2", **({"before": str(before)} if before else {})}
        page = (await cases.get("/v1/access-log", headers=privacy, params=params)).json()
        seen.extend(page["records"])
        before = page["next_before"]
        if before is None:
            break
    mine = [r for r in seen if r["case_id"] in case_ids]
    assert len(mine) == 6 and {r["case_id"] for r in mine} == set(case_ids)
    assert all(
        r["actor_id"] == "worker-1" for r in seen
    )  # the filter (other tests' records may be here too)
    assert all(r["basis"] == "assignment" and r["part"] == "full" for r in mine)
    ids = [r["record_id"] for r in seen]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    one = (
        await cases.get("/v1/access-log", headers=privacy, params={"case_id": case_ids[0]})
    ).json()
    assert [r["case_id"] for r in one["records"]] == [case_ids[0]] * 2


@pytest.mark.parametrize("role", ["caseworker", "supervisor", "reporter", "admin", "outreach"])
async def test_only_the_privacy_officer_reviews_accesses(
    cases: httpx.AsyncClient, issuer, role: str
) -> None:
    token = issuer.mint("someone", "org-harbor", [role], team="team-north")
    response = await cases.get("/v1/access-log", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403


async def test_another_organisations_privacy_officer_sees_none_of_these_accesses(
    cases: httpx.AsyncClient, people: People, issuer
) -> None:
    """Control: this organisation's officer sees the read; the other's does not."""
    case_id = await open_case(cases, people.worker)
    assert (await cases.get(f"/v1/cases/{case_id}", headers=people.worker)).status_code == 200
    ours = {
        "Authorization": f"Bearer {issuer.mint('privacy-1', 'org-harbor', ['privacy_officer'])}"
    }
    theirs = {"Authorization": f"Bearer {issuer.mint('privacy-1', OTHER_ORG, ['privacy_officer'])}"}
    assert (await cases.get("/v1/access-log", headers=ours, params={"case_id": case_id})).json()[
        "records"
    ]
    assert (await cases.get("/v1/access-log", headers=theirs, params={"case_id": case_id})).json()[
        "records"
    ] == []


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "501"},
        {"basis": "curiosity"},
        {"before": "0"},
        {"case_id": "not-a-uuid"},
    ],
)
async def test_bad_parameters_are_refused(
    cases: httpx.AsyncClient, privacy: dict[str, str], params: dict[str, str]
) -> None:
    response = await cases.get("/v1/access-log", headers=privacy, params=params)
    assert response.status_code in (400, 422)
    assert response.headers["content-type"].startswith("application/problem+json")

"""A survivor's own record: `GET /v1/cases/{id}/export` and `haven export` over the real app,
event store and PostgreSQL. The privacy officer gets the record, every event of its history
decrypted and the access log, its own export recorded before the answer; nobody else gets
anything, and nothing is exported that could not be recorded. Every value is synthetic;
`CANARY` marks case content.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx
import pytest

from events.access_log import access_log
from services.api.cases.schemas.examples import ASSESS_OUTCOME_EXAMPLE, BREAK_GLASS_EXAMPLE
from services.bootstrap import Runtime
from services.cli import main
from services.identity import LocalIssuer
from tests.api.conftest import ORG, OTHER_ORG, access_records_refused
from tests.api.test_case_routes import CANARY, assert_problem, intake_body
from tests.api.test_case_routes_extra import People, at, break_glass
from tests.logging_support import preserved_logging

MARKUP = '<script>alert("x")</script><b>'


@pytest.fixture
def people(issuer: LocalIssuer) -> People:
    return People(issuer)


async def open_marked_case(cases: httpx.AsyncClient, people: People) -> str:
    """A case whose survivor's name holds markup, with an outcome after its intake."""
    body = intake_body()
    body["identity"]["preferred_name"] = f"{MARKUP} {CANARY}"
    opened = await cases.post("/v1/cases", json=body, headers=people.worker)
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    outcome = await cases.post(
        f"/v1/cases/{case_id}/outcomes", json=ASSESS_OUTCOME_EXAMPLE, headers=at(people.worker, 1)
    )
    assert outcome.status_code == 200, outcome.text
    return case_id


async def exports(runtime: Runtime, case_id: str) -> list[tuple[str, str, str]]:
    return [
        (r.actor_id, r.part, r.basis)
        for r in await access_log(runtime.pool, ORG, uuid.UUID(case_id))
        if r.part == "export"
    ]


async def test_the_privacy_officer_exports_the_record_its_history_and_its_access_log(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    case_id = await open_marked_case(cases, people)
    assert (await cases.get(f"/v1/cases/{case_id}", headers=people.worker)).status_code == 200
    grant_id = (await break_glass(cases, case_id, people.supervisor)).json()["grant_id"]
    assert (await cases.get(f"/v1/cases/{case_id}", headers=people.supervisor)).status_code == 200

    response = await cases.get(f"/v1/cases/{case_id}/export", headers=people.privacy)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert (
        response.headers["content-disposition"]
        == f'attachment; filename="case-{case_id}-export.json"'
    )
    body = response.json()
    assert (body["case_id"], body["exported_by"]) == (case_id, "privacy-1")
    assert body["record"]["identity"]["preferred_name"] == f"{MARKUP} {CANARY}"
    assert body["record"]["version"] == 2 and "immigration" in body["record"]
    assert [(e["version"], e["event_type"], e["actor"]) for e in body["history"]] == [
        (1, "case.opened", "worker-1"),
        (2, "case.outcome_assessed", "worker-1"),
    ]
    assert CANARY in json.dumps(body["history"][0]["data"])  # decrypted, not just a timeline
    assert all(e["recorded_at"] for e in body["history"])
    # the export's own record is in its answer: it was recorded before the answer was sent
    assert [
        (r["actor_id"], r["role"], r["part"], r["basis"], r["grant_id"]) for r in body["access_log"]
    ] == [
        ("privacy-1", "privacy_officer", "export", "privacy-review", None),
        ("supervisor-1", "supervisor", "summary", "break-glass", grant_id),
        ("worker-1", "caseworker", "full", "assignment", None),
    ]
    assert body["access_log"][0]["request_id"] == response.headers["x-request-id"]
    assert [(g["grant_id"], g["reason"]) for g in body["grants"]] == [
        (grant_id, BREAK_GLASS_EXAMPLE["reason"])
    ]
    assert await exports(runtime, case_id) == [("privacy-1", "export", "privacy-review")]


async def test_the_document_holds_the_same_and_escapes_a_survivor_s_markup(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    """Attack: markup in a survivor's field, rendered into the document the officer opens.
    Control: the same text is there, as text, and the JSON export holds it as it was given."""
    case_id = await open_marked_case(cases, people)
    url = f"/v1/cases/{case_id}/export"
    html = await cases.get(url, headers={**people.privacy, "Accept": "text/html"})
    assert html.status_code == 200, html.text
    assert html.headers["content-type"].startswith("text/html")
    assert html.headers["content-disposition"].endswith(f'filename="case-{case_id}-export.html"')
    assert (html.headers["cache-control"], html.headers["x-content-type-options"]) == (
        "no-store",
        "nosniff",
    )
    assert "script-src" not in html.headers["content-security-policy"]
    assert "default-src 'none'" in html.headers["content-security-policy"]
    page = html.text
    assert '<html lang="en">' in page
    assert "<script" not in page and "<b>" not in page and "style=" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;" in page and CANARY in page
    for shown in ("<h2", "<table", "case.opened", "case.outcome_assessed", "worker-1", "privacy-1"):
        assert shown in page
    # ?format wins over Accept, both ways
    as_html = await cases.get(f"{url}?format=html", headers=people.privacy)
    as_json = await cases.get(
        f"{url}?format=json", headers={**people.privacy, "Accept": "text/html"}
    )
    assert as_html.headers["content-type"].startswith("text/html") and CANARY in as_html.text
    assert as_json.json()["record"]["identity"]["preferred_name"] == f"{MARKUP} {CANARY}"
    assert_problem(
        await cases.get(f"{url}?format=pdf", headers=people.privacy), 422, "validation-error"
    )
    assert len(await exports(runtime, case_id)) == 3  # each export recorded, the refused one not


async def test_attack_nobody_but_the_organisation_s_privacy_officer_exports_a_case(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    """Attack: the assigned worker, a supervisor holding a break-the-glass grant, a reporter and
    another organisation's privacy officer each ask for the survivor's whole record. Control:
    the organisation's privacy officer gets it."""
    case_id = await open_marked_case(cases, people)
    assert (await break_glass(cases, case_id, people.supervisor)).status_code == 201
    url = f"/v1/cases/{case_id}/export"
    refused = [
        (await cases.get(url, headers=people.worker), 403, "forbidden"),
        (await cases.get(url, headers=people.supervisor), 403, "forbidden"),
        (await cases.get(url, headers=people.reporter), 403, "forbidden"),
        (await cases.get(url, headers=people.stranger_privacy), 404, "not-found"),
        (
            await cases.get(f"{url}?format=html", headers=people.stranger_privacy),
            404,
            "not-found",
        ),
    ]
    missing = await cases.get(f"/v1/cases/{uuid.uuid4()}/export", headers=people.privacy)
    for response, status, slug in refused:
        assert_problem(response, status, slug)
        assert CANARY not in response.text and "content-disposition" not in response.headers
    assert refused[3][0].content == missing.content  # another organisation's: as a missing one
    assert await exports(runtime, case_id) == []  # no refused attempt exported anything
    assert (await cases.get(url, headers=people.privacy)).status_code == 200  # control
    assert await exports(runtime, case_id) == [("privacy-1", "export", "privacy-review")]


async def test_an_export_that_cannot_be_recorded_exports_nothing(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    case_id = await open_marked_case(cases, people)
    url = f"/v1/cases/{case_id}/export"
    async with access_records_refused(runtime.pool, case_id):
        answers = [
            await cases.get(url, headers=people.privacy),
            await cases.get(url, headers={**people.privacy, "Accept": "text/html"}),
        ]
    for response in answers:
        assert_problem(response, 503, "service-unavailable")
        assert CANARY not in response.text and "content-disposition" not in response.headers
    assert await access_log(runtime.pool, ORG, uuid.UUID(case_id)) == []
    # control: with the access log writable again, the same export is answered and recorded
    assert (await cases.get(url, headers=people.privacy)).status_code == 200
    assert await exports(runtime, case_id) == [("privacy-1", "export", "privacy-review")]


async def test_an_erased_case_is_not_exported(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    case_id = await open_marked_case(cases, people)
    url = f"/v1/cases/{case_id}/export"
    assert (await cases.get(url, headers=people.privacy)).status_code == 200  # control
    assert (await cases.delete(f"/v1/cases/{case_id}", headers=people.privacy)).status_code == 204
    gone = await cases.get(url, headers=people.privacy)
    missing = await cases.get(f"/v1/cases/{uuid.uuid4()}/export", headers=people.privacy)
    assert_problem(gone, 404, "not-found")
    assert gone.content == missing.content and CANARY not in gone.text
    assert await exports(runtime, case_id) == [("privacy-1", "export", "privacy-review")]


async def test_haven_export_writes_the_same_json_and_refuses_another_organisation(
    cases: httpx.AsyncClient,
    people: People,
    runtime: Runtime,
    database_url: str,
    key_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HAVEN_DATABASE_URL", database_url)
    monkeypatch.setenv("HAVEN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HAVEN_KEK", f"file:{key_file}")
    case_id = await open_marked_case(cases, people)
    api = (await cases.get(f"/v1/cases/{case_id}/export", headers=people.privacy)).json()
    out, foreign = tmp_path / "export.json", tmp_path / "foreign.json"
    with preserved_logging():  # the command configures logging (to standard error)
        refused = await asyncio.to_thread(
            main, ["export", case_id, "--org", OTHER_ORG, "--out", str(foreign), "--by", "ops-1"]
        )
        written = await asyncio.to_thread(
            main, ["export", case_id, "--org", ORG, "--out", str(out), "--by", "ops-1"]
        )
    assert refused == 1 and not foreign.exists()  # attack: the case named under another org
    assert written == 0 and out.stat().st_mode & 0o777 == 0o600
    cli = json.loads(out.read_text())
    assert (cli["record"], cli["history"], cli["grants"]) == (
        api["record"],
        api["history"],
        api["grants"],
    )
    newest, *earlier = cli["access_log"]
    assert (newest["actor_id"], newest["role"], newest["part"], newest["basis"]) == (
        "cli:ops-1",
        "privacy_officer",
        "export",
        "privacy-review",
    )
    assert newest["request_id"] == "haven-cli" and earlier == api["access_log"]
    assert await exports(runtime, case_id) == [
        ("cli:ops-1", "export", "privacy-review"),
        ("privacy-1", "export", "privacy-review"),
    ]

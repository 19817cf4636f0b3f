"""Reads and commands take the case from the sealed case view when it is current, from the
stream when it is not — never stale, and the same answer either way."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
import pytest

from domain.case import commands as cmd
from events.verify import verify_store
from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.bootstrap import Runtime
from services.commands import case_reader
from services.commands.use_cases import Actor, CaseUseCases
from tests.api.conftest import ORG, People
from tests.api.test_case_routes import open_case, service
from tests.conftest import empty_log_and_read_models


class Counting:
    """Calls through to `real`, counting the calls."""

    def __init__(self, real) -> None:
        self.calls = 0
        self._real = real

    async def __call__(self, *args, **kwargs):
        self.calls += 1
        return await self._real(*args, **kwargs)


async def test_a_current_view_answers_without_reading_the_stream(
    cases: httpx.AsyncClient, people: People, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    await empty_log_and_read_models(
        runtime.pool
    )  # the whole log is rebuilt: no other file's events
    case_id = await open_case(cases, people.worker)
    from_stream = await cases.get(f"/v1/cases/{case_id}", headers=people.worker)
    await rebuild(
        runtime.store, runtime.pool, projection_factories(runtime.keyring, runtime.store)["cases"]
    )
    reads = Counting(case_reader.load_for)
    monkeypatch.setattr(case_reader, "load_for", reads)
    from_view = await cases.get(f"/v1/cases/{case_id}", headers=people.worker)
    assert from_view.status_code == 200
    assert reads.calls == 0
    assert from_view.json() == from_stream.json()
    assert from_view.headers["etag"] == from_stream.headers["etag"] == '"1"'


async def test_a_view_behind_the_stream_is_not_used(
    cases: httpx.AsyncClient, people: People, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Control for the test above: after a command the view (no projector runs here) is one
    version behind, so the read does not use it: it shows the new version, from the stream."""
    await empty_log_and_read_models(
        runtime.pool
    )  # the whole log is rebuilt: no other file's events
    case_id = await open_case(cases, people.worker)
    await rebuild(
        runtime.store, runtime.pool, projection_factories(runtime.keyring, runtime.store)["cases"]
    )
    reads = Counting(case_reader.load_for)
    monkeypatch.setattr(case_reader, "load_for", reads)
    answer = await cases.post(
        f"/v1/cases/{case_id}/services",
        json=service(),
        headers={**people.worker, "If-Match": '"1"'},
    )
    assert answer.status_code == 200
    read = await cases.get(f"/v1/cases/{case_id}", headers=people.worker)
    assert read.headers["etag"] == '"2"'
    assert len(read.json()["services"]) == 1


async def test_after_a_command_the_next_command_and_read_use_the_state_it_left(
    cases: httpx.AsyncClient, people: People, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The view trails the commands (no projector runs here); this process knows the state each
    command left (`services.recent_states`), so nothing reads the stream again."""
    reads = Counting(case_reader.load_for)
    monkeypatch.setattr(case_reader, "load_for", reads)
    case_id = await open_case(cases, people.worker)
    for version in (1, 2):
        answer = await cases.post(
            f"/v1/cases/{case_id}/services",
            json=service(f"service-{version}"),
            headers={**people.worker, "If-Match": f'"{version}"'},
        )
        assert answer.status_code == 200, answer.text
    read = await cases.get(f"/v1/cases/{case_id}", headers=people.worker)
    assert read.headers["etag"] == '"3"'
    assert [s["service_id"] for s in read.json()["services"]] == ["service-1", "service-2"]
    assert reads.calls == 0


async def test_a_state_known_here_is_not_used_once_another_process_has_appended(
    cases: httpx.AsyncClient, people: People, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attack: a stale in-process state served as current. Another process (here: use
    cases on the store, without this app's cache) appends; the read must show its event."""
    case_id = await open_case(cases, people.worker)
    answer = await cases.post(
        f"/v1/cases/{case_id}/services",
        json=service("service-1"),
        headers={**people.worker, "If-Match": '"1"'},
    )
    assert answer.status_code == 200
    elsewhere = CaseUseCases(runtime.store)
    await elsewhere.record_service(
        Actor("worker-1", ORG),
        case_id,
        cmd.RecordService(
            service_id="service-elsewhere",
            category="case_management",
            delivered_on=dt.date(2026, 1, 13),
        ),
        expected_version=2,
    )
    # control: the stale state is known here; without the head-version check it would answer
    assert runtime.recent is not None and runtime.recent.at_version((ORG, case_id), 2) is not None
    reads = Counting(case_reader.load_for)
    monkeypatch.setattr(case_reader, "load_for", reads)
    read = await cases.get(f"/v1/cases/{case_id}", headers=people.worker)
    assert read.headers["etag"] == '"3"'
    assert [s["service_id"] for s in read.json()["services"]] == ["service-1", "service-elsewhere"]
    assert reads.calls == 1
    stale = await cases.post(
        f"/v1/cases/{case_id}/services",
        json=service("service-stale"),
        headers={**people.worker, "If-Match": '"2"'},
    )
    assert stale.status_code == 412  # and a command that saw version 2 is refused as before


async def test_a_tampered_view_row_falls_back_to_the_stream(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    """Attack: another case's sealed view copied over this one's. The read still answers this
    case's own content (from the stream), never the other case's."""
    await empty_log_and_read_models(
        runtime.pool
    )  # the whole log is rebuilt: no other file's events
    first, second = await open_case(cases, people.worker), await open_case(cases, people.worker)
    await rebuild(
        runtime.store, runtime.pool, projection_factories(runtime.keyring, runtime.store)["cases"]
    )
    await runtime.pool.execute(
        "UPDATE views.case_view "
        "SET sealed = (SELECT sealed FROM views.case_view WHERE case_id = $2) "
        "WHERE case_id = $1",
        uuid.UUID(first),
        uuid.UUID(second),
    )
    read = await cases.get(f"/v1/cases/{first}", headers=people.worker)
    assert read.status_code == 200
    assert read.json()["case_id"] == first


async def test_a_command_on_a_current_view_does_not_read_the_stream(
    cases: httpx.AsyncClient, people: People, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """And a command decided on a state that went stale is refused by the append (409), never
    applied over the newer version."""
    await empty_log_and_read_models(
        runtime.pool
    )  # the whole log is rebuilt: no other file's events
    case_id = await open_case(cases, people.worker)
    await rebuild(
        runtime.store, runtime.pool, projection_factories(runtime.keyring, runtime.store)["cases"]
    )
    reads = Counting(case_reader.load_for)
    monkeypatch.setattr(case_reader, "load_for", reads)
    answer = await cases.post(
        f"/v1/cases/{case_id}/services",
        json=service(),
        headers={**people.worker, "If-Match": '"1"'},
    )
    assert answer.status_code == 200 and answer.json()["version"] == 2
    assert reads.calls == 0
    assert await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == 2


async def test_a_command_on_the_state_its_process_left_reads_nothing_before_the_append(
    cases: httpx.AsyncClient, people: People, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The intake left the case's state at version 1 here, and the next command names that
    version: it is decided on that state, with no read of the view or the stream. Control:
    once the process forgets the state, the same kind of command reads the case."""
    reads = Counting(case_reader.current_state)
    monkeypatch.setattr(case_reader, "current_state", reads)
    case_id = await open_case(cases, people.worker)
    answer = await cases.post(
        f"/v1/cases/{case_id}/services",
        json=service("service-1"),
        headers={**people.worker, "If-Match": '"1"'},
    )
    assert answer.status_code == 200 and answer.headers["etag"] == '"2"'
    assert reads.calls == 0
    assert runtime.recent is not None
    runtime.recent.forget((ORG, case_id))
    control = await cases.post(
        f"/v1/cases/{case_id}/services",
        json=service("service-2"),
        headers={**people.worker, "If-Match": '"2"'},
    )
    assert control.status_code == 200 and control.headers["etag"] == '"3"'
    assert reads.calls == 1
    assert await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == 3


async def test_a_state_known_here_that_went_stale_never_authorises_a_command(
    cases: httpx.AsyncClient, people: People, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attack: the case is reassigned away from the worker by another process (use cases
    on the store, without this app's cache), while this process still knows the state in which
    the worker holds it. The worker's command naming that version must not be recorded: the
    append refuses the stale version, and the command is decided again on the stored case,
    which answers as if nothing were known here. Control: the stale state that would have
    authorised the worker is known here, and is acted on: the command reaches the append,
    which refuses it; without the known state the refusal comes before any append."""
    case_id = await open_case(cases, people.worker)
    elsewhere = CaseUseCases(runtime.store)
    await elsewhere.assign(
        Actor("supervisor-1", ORG),
        case_id,
        cmd.AssignCase(
            worker_id="worker-7", team_id="team-elsewhere", assigned_on=dt.date(2026, 1, 13)
        ),
        expected_version=1,
    )
    assert (
        runtime.recent is not None and runtime.recent.at_version((ORG, case_id), 1) is not None
    )  # control
    reads, appends = Counting(case_reader.current_state), Counting(runtime.store.append)
    monkeypatch.setattr(case_reader, "current_state", reads)
    monkeypatch.setattr(runtime.store, "append", appends)
    refused = await cases.post(
        f"/v1/cases/{case_id}/services",
        json=service("service-stale"),
        headers={**people.worker, "If-Match": '"1"'},
    )
    assert refused.status_code in (403, 404), refused.text
    assert (appends.calls, reads.calls) == (
        1,
        1,
    )  # decided on the known state, refused by the append
    assert await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == 2
    runtime.recent.forget((ORG, case_id))
    without_shortcut = await cases.post(
        f"/v1/cases/{case_id}/services",
        json=service("service-stale"),
        headers={**people.worker, "If-Match": '"1"'},
    )
    assert (without_shortcut.status_code, without_shortcut.json()) == (
        refused.status_code,
        refused.json(),
    )
    assert (appends.calls, reads.calls) == (1, 2)


async def test_a_lost_race_on_a_state_known_here_is_answered_from_the_stored_case(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    """Another process appends after this one last saw the case; a command naming the version
    known here is refused by the append and decided again on the stored case: 412 (the
    If-Match is stale), never a second append over the other one's."""
    case_id = await open_case(cases, people.worker)
    await CaseUseCases(runtime.store).record_service(
        Actor("worker-1", ORG),
        case_id,
        cmd.RecordService(
            service_id="service-elsewhere",
            category="case_management",
            delivered_on=dt.date(2026, 1, 13),
        ),
        expected_version=1,
    )
    stale = await cases.post(
        f"/v1/cases/{case_id}/services",
        json=service("service-stale"),
        headers={**people.worker, "If-Match": '"1"'},
    )
    assert stale.status_code == 412, stale.text
    read = await cases.get(f"/v1/cases/{case_id}", headers=people.worker)
    assert [s["service_id"] for s in read.json()["services"]] == ["service-elsewhere"]


async def access_records(runtime: Runtime, case_id: str) -> list[str]:
    rows = await runtime.pool.fetch(
        "SELECT actor_id FROM haven.access_records WHERE case_id = $1", uuid.UUID(case_id)
    )
    return [row[0] for row in rows]


async def test_a_read_of_a_case_known_here_is_recorded_in_its_one_statement(
    cases: httpx.AsyncClient, people: People, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The intake left the case's state here: a read of it decides on that state and makes one
    statement, the access record guarded by the stream's version; the record is there before
    the answer. Control: once the process forgets the state, the read reads the case."""
    case_id = await open_case(cases, people.worker)
    reads = Counting(case_reader.current_state)
    monkeypatch.setattr(case_reader, "current_state", reads)
    answer = await cases.get(f"/v1/cases/{case_id}", headers=people.worker)
    assert answer.status_code == 200 and answer.headers["etag"] == '"1"'
    assert reads.calls == 0
    assert await access_records(runtime, case_id) == ["worker-1"]
    assert runtime.recent is not None
    runtime.recent.forget((ORG, case_id))
    control = await cases.get(f"/v1/cases/{case_id}", headers=people.worker)
    assert control.json() == answer.json()
    assert reads.calls == 1
    assert await access_records(runtime, case_id) == ["worker-1", "worker-1"]


async def test_a_state_known_here_that_went_stale_never_authorises_a_read(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    """The attack: another process reassigns the case away from the worker while this process
    still holds the state in which the worker has it. The worker's read must be refused as if
    nothing were known here, and no access is recorded for it. Control: the stale state that
    would let the worker read is the one known here."""
    case_id = await open_case(cases, people.worker)
    await CaseUseCases(runtime.store).assign(
        Actor("supervisor-1", ORG),
        case_id,
        cmd.AssignCase(
            worker_id="worker-7", team_id="team-elsewhere", assigned_on=dt.date(2026, 1, 13)
        ),
        expected_version=1,
    )
    assert runtime.recent is not None
    stale = runtime.recent.latest((ORG, case_id))
    assert stale is not None and stale.version == 1 and stale.worker_id == "worker-1"  # control
    refused = await cases.get(f"/v1/cases/{case_id}", headers=people.worker)
    assert refused.status_code in (403, 404), refused.text
    assert await access_records(runtime, case_id) == []
    runtime.recent.forget((ORG, case_id))
    without_shortcut = await cases.get(f"/v1/cases/{case_id}", headers=people.worker)
    assert (without_shortcut.status_code, without_shortcut.json()) == (
        refused.status_code,
        refused.json(),
    )


async def test_a_read_after_another_process_appended_shows_its_event_and_is_recorded_once(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    """The state known here is a version behind: its guarded record writes nothing, and the
    read is answered from the stored case, recorded once."""
    case_id = await open_case(cases, people.worker)
    await CaseUseCases(runtime.store).record_service(
        Actor("worker-1", ORG),
        case_id,
        cmd.RecordService(
            service_id="service-elsewhere",
            category="case_management",
            delivered_on=dt.date(2026, 1, 13),
        ),
        expected_version=1,
    )
    read = await cases.get(f"/v1/cases/{case_id}", headers=people.worker)
    assert read.headers["etag"] == '"2"'
    assert [s["service_id"] for s in read.json()["services"]] == ["service-elsewhere"]
    assert await access_records(runtime, case_id) == ["worker-1"]


async def test_a_tampered_event_mid_stream_is_found_by_the_paths_that_walk_the_chain(
    cases: httpx.AsyncClient, people: People, runtime: Runtime
) -> None:
    """Attack: corrupt the ciphertext of an event in the middle of a case's stream. The paths
    that walk the stream (`GET .../history`, a read when the view is behind, `haven verify`)
    find it; a read served from the current sealed view answers the case as it was projected
    from the authentic events — never the corrupted one — and does not itself walk the chain
    (docs/security.md, "Which paths check the chain")."""
    await empty_log_and_read_models(runtime.pool)
    case_id = await open_case(cases, people.worker)
    for version in (1, 2):
        answer = await cases.post(
            f"/v1/cases/{case_id}/services",
            json=service(f"service-{version}"),
            headers={**people.worker, "If-Match": f'"{version}"'},
        )
        assert answer.status_code == 200, answer.text
    await rebuild(
        runtime.store, runtime.pool, projection_factories(runtime.keyring, runtime.store)["cases"]
    )
    before = await cases.get(f"/v1/cases/{case_id}", headers=people.worker)
    await runtime.pool.execute(
        "UPDATE haven.events "
        "SET ciphertext = overlay(ciphertext placing '\\xff'::bytea from 20 for 1) "
        "WHERE stream_id = $1 AND version = 2",
        uuid.UUID(case_id),
    )
    report = await verify_store(runtime.pool, runtime.keyring)
    assert [(str(f.stream_id), f.version) for f in report.findings] == [(case_id, 2), (case_id, 2)]
    history = await cases.get(f"/v1/cases/{case_id}/history", headers=people.worker)
    assert history.status_code == 500 and history.json()["type"].endswith("/internal-error")
    from_view = await cases.get(f"/v1/cases/{case_id}", headers=people.worker)
    assert from_view.status_code == 200 and from_view.json() == before.json()  # the authentic state
    await runtime.pool.execute(
        "UPDATE views.case_view SET version = version - 1 WHERE case_id = $1", uuid.UUID(case_id)
    )  # the view behind: the state this process's command left ...
    from_memory = await cases.get(f"/v1/cases/{case_id}", headers=people.worker)
    assert from_memory.status_code == 200 and from_memory.json() == before.json()
    runtime.recent.clear()  # ... and without it, the read walks the stream
    assert (await cases.get(f"/v1/cases/{case_id}", headers=people.worker)).status_code == 500

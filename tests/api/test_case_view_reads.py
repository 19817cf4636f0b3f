"""Reads and commands take the case from the sealed case view when it is current, from the
stream when it is not — never stale, and the same answer either way."""

from __future__ import annotations

import httpx
import pytest

from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.api import case_support
from services.bootstrap import Runtime
from tests.api.test_case_routes import ORG, People, open_case, people, service  # noqa: F401 (fixture)


class CountingStreamReads:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, *args, **kwargs):
        self.calls += 1
        return await REAL_LOAD_FOR(*args, **kwargs)


REAL_LOAD_FOR = case_support.load_for


async def test_a_current_view_answers_without_reading_the_stream(
        cases: httpx.AsyncClient, people: People, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    case_id = await open_case(cases, people.worker)
    from_stream = await cases.get(f"/v1/cases/{case_id}", headers=people.worker)
    await rebuild(runtime.store, runtime.pool, projection_factories(runtime.keyring, runtime.store)["cases"])
    reads = CountingStreamReads()
    monkeypatch.setattr(case_support, "load_for", reads)
    from_view = await cases.get(f"/v1/cases/{case_id}", headers=people.worker)
    assert from_view.status_code == 200
    assert reads.calls == 0
    assert from_view.json() == from_stream.json()
    assert from_view.headers["etag"] == from_stream.headers["etag"] == '"1"'


async def test_a_view_behind_the_stream_is_not_used(
        cases: httpx.AsyncClient, people: People, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Control for the test above: after a command the view (no projector runs here) is one
    version behind, so the read goes to the stream and shows the new version."""
    case_id = await open_case(cases, people.worker)
    await rebuild(runtime.store, runtime.pool, projection_factories(runtime.keyring, runtime.store)["cases"])
    reads = CountingStreamReads()
    monkeypatch.setattr(case_support, "load_for", reads)
    answer = await cases.post(f"/v1/cases/{case_id}/services", json=service(),
                              headers={**people.worker, "If-Match": '"1"'})
    assert answer.status_code == 200
    read = await cases.get(f"/v1/cases/{case_id}", headers=people.worker)
    assert read.headers["etag"] == '"2"'
    assert len(read.json()["services"]) == 1
    assert reads.calls == 1


async def test_a_tampered_view_row_falls_back_to_the_stream(
        cases: httpx.AsyncClient, people: People, runtime: Runtime) -> None:
    """Attack: another case's sealed view copied over this one's. The read still answers this
    case's own content (from the stream), never the other case's."""
    first, second = await open_case(cases, people.worker), await open_case(cases, people.worker)
    await rebuild(runtime.store, runtime.pool, projection_factories(runtime.keyring, runtime.store)["cases"])
    await runtime.pool.execute(
        "UPDATE views.case_view SET sealed = (SELECT sealed FROM views.case_view WHERE case_id = $2) "
        "WHERE case_id = $1", __import__("uuid").UUID(first), __import__("uuid").UUID(second))
    read = await cases.get(f"/v1/cases/{first}", headers=people.worker)
    assert read.status_code == 200
    assert read.json()["case_id"] == first


async def test_a_command_on_a_current_view_does_not_read_the_stream(
        cases: httpx.AsyncClient, people: People, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """And a command decided on a state that went stale is refused by the append (409), never
    applied over the newer version."""
    case_id = await open_case(cases, people.worker)
    await rebuild(runtime.store, runtime.pool, projection_factories(runtime.keyring, runtime.store)["cases"])
    reads = CountingStreamReads()
    monkeypatch.setattr(case_support, "load_for", reads)
    answer = await cases.post(f"/v1/cases/{case_id}/services", json=service(),
                              headers={**people.worker, "If-Match": '"1"'})
    assert answer.status_code == 200 and answer.json()["version"] == 2
    assert reads.calls == 0
    assert await runtime.store.stream_version(ORG, __import__("uuid").UUID(case_id)) == 2

"""The `case_finder` projection: sealed names and a blind index of keyed hashes, per
organisation, that a rebuild builds as the live runner does and that holds no plaintext."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import msgspec

from domain.case.search_terms import normalise_name, search_criteria
from events.organisation_secrets import BlindIndexKeys
from events.store import PostgresEventStore
from projections.case_finder import find_cases, read_case_names
from projections.rebuild import rebuild
from services.api.cases.schemas.examples import OPEN_CASE_EXAMPLE
from services.api.cases.schemas.requests import OpenCaseBody
from services.commands.ports import Actor
from services.commands.use_cases import CaseUseCases
from tests.projections.live_support import live_runner, projected_to_head

ORG_A, ORG_B = "org-finder-a", "org-finder-b"
CANARY = "Zephyrine Quillfeather"  # a synthetic name found nowhere else


async def open_case(
    store: PostgresEventStore,
    org: str,
    name: str,
    *,
    aliases: tuple[str, ...] = (),
    phone: str | None = None,
    worker: str = "worker-1",
) -> uuid.UUID:
    body: dict[str, Any] = copy.deepcopy(OPEN_CASE_EXAMPLE)
    body["identity"] = {
        "preferred_name": name,
        "aliases": list(aliases),
        "date_of_birth": "1991-02-03",
    }
    if phone is not None:
        body["contact"]["channels"][0]["detail"] = phone
    case_id = uuid.uuid4()
    command = msgspec.convert(body, OpenCaseBody).command(
        case_id=str(case_id), organisation_id=org, worker_id=worker, team_id="team-1"
    )
    await CaseUseCases(store).open_case(Actor(worker, org), command)
    return case_id


async def index_rows(store: PostgresEventStore) -> list[tuple[Any, ...]]:
    rows = await store.pool.fetch(
        "SELECT tenant_id, field, term_hash, case_id FROM views.blind_index ORDER BY 1, 2, 3, 4"
    )
    return [tuple(row) for row in rows]


async def name_rows(store: PostgresEventStore) -> list[tuple[Any, ...]]:
    rows = await store.pool.fetch(
        "SELECT tenant_id, case_id, key_id, sealed FROM views.case_names ORDER BY 1, 2"
    )
    return [tuple(row) for row in rows]


async def test_the_live_runner_builds_what_a_rebuild_builds(case_store, factories, listen) -> None:
    await open_case(case_store, ORG_A, "Ana Lima", aliases=("Nina",), phone="555 010 7788")
    async with live_runner(case_store, listen, factories["case_finder"]):
        await open_case(case_store, ORG_A, "Rosa Marin")
        await open_case(case_store, ORG_B, "Ana Lima")
        assert await projected_to_head(case_store, "case_finder")
        live_index, live_names = await index_rows(case_store), await name_rows(case_store)
    # name, alias, date of birth, phone; name and date of birth twice
    assert len(live_index) == 4 + 2 + 2 and len(live_names) == 3
    await rebuild(case_store, case_store.pool, factories["case_finder"])
    assert await index_rows(case_store) == live_index
    assert [row[:2] for row in await name_rows(case_store)] == [row[:2] for row in live_names]


async def test_the_index_and_the_names_hold_no_plaintext(case_store, factories, keyring) -> None:
    """The attack: read a name out of the tables (a dump, a replica, a backup). Control: the
    canary is in the intake, and opens from the sealed names with the case's key."""
    case_id = await open_case(case_store, ORG_A, CANARY, aliases=(CANARY.upper(),))
    await rebuild(case_store, case_store.pool, factories["case_finder"])
    dumped = repr(await index_rows(case_store)) + repr(await name_rows(case_store))
    dumped += repr([tuple(r) for r in await case_store.pool.fetch("TABLE haven.tenant_secrets")])
    for form in (CANARY, CANARY.upper(), normalise_name(CANARY), "zephyrine", "Zephyrine"):
        assert form and form not in dumped
        assert form.encode() not in dumped.encode()
    (first, *_) = await case_store.read_stream(ORG_A, case_id)
    assert first.event.identity.preferred_name == CANARY  # control: it was in the intake
    names = await read_case_names(case_store.pool, keyring, ORG_A, [case_id])
    assert names[case_id].preferred_name == CANARY  # control: sealed, not absent


async def test_one_name_hashes_apart_in_two_organisations(case_store, factories) -> None:
    """The attack: link a client across organisations by equal hashes. Control: within one
    organisation the same name gives the same hash (else the index could find nothing)."""
    in_a = await open_case(case_store, ORG_A, "Ana Lima")
    again_in_a = await open_case(case_store, ORG_A, "ana  LIMA")
    in_b = await open_case(case_store, ORG_B, "Ana Lima")
    await rebuild(case_store, case_store.pool, factories["case_finder"])
    name_hash = {
        case_id: term_hash
        for _, field, term_hash, case_id in await index_rows(case_store)
        if field == "name"
    }
    assert name_hash[in_a] != name_hash[in_b]
    assert name_hash[in_a] == name_hash[again_in_a]  # control


async def test_a_search_finds_only_its_own_organisation_s_cases(
    case_store, factories, keyring
) -> None:
    in_a = await open_case(case_store, ORG_A, "Ana Lima", aliases=("Nina",), phone="5550107788")
    in_b = await open_case(case_store, ORG_B, "Ana Lima", phone="5550107788")
    await rebuild(case_store, case_store.pool, factories["cases"])
    await rebuild(case_store, case_store.pool, factories["case_finder"])
    keys = BlindIndexKeys(keyring.provider)

    async def found(org: str, **terms: Any) -> set[uuid.UUID]:
        matches = await find_cases(case_store.pool, keys, org, search_criteria(**terms))
        return {match.case_id for match in matches}

    assert await found(ORG_A, name="ANA LIMA") == {in_a}
    assert await found(ORG_B, name="ana lima") == {in_b}
    assert await found(ORG_A, name="nina") == {in_a}  # a name search covers aliases
    assert await found(ORG_A, alias="ana lima") == set()  # an alias search does not cover names
    assert await found(ORG_A, phone="+1 (555) 010-7788") == {in_a}
    assert await found(ORG_A, name="ana lima", phone="5550000000") == set()  # every criterion
    assert await found("org-finder-none", name="ana lima") == set()  # no secret: no index

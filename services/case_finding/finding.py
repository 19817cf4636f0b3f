"""The use cases of finding a client, for every edge (the API, the console).

* `caseload_names`: the names of the cases of a worker's own caseload, read from their sealed
  rows (`projections.case_finder`), recorded as ONE listing (`events.access_listings`).
* `search`: the organisation's cases matching every criterion (blind index), kept to those
  the caller may read (`Action.CASE_READ`, the same rule as opening the case), recorded as one
  listing naming the fields searched by and the cases answered, never the terms.
* `likely_duplicates`: at intake, the organisation's cases sharing a name and date of birth,
  or a phone number, with the intake; never blocks it. Cases the caller may not read are
  counted, not named.

Each records before it answers and answers nothing when it cannot (`AccessNotRecorded`).
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Sequence

import msgspec

from crypto.providers import KeyProvider
from domain.case.search_terms import Criterion, case_terms, duplicate_probes
from domain.case.values import Identity, SafeContact
from events.access_listings import record_listing
from events.organisation_secrets import BlindIndexKeys
from projections.case_finder import CaseNames, Match, find_cases, read_case_names
from projections.queries import ViewNotBuilt
from services.authorisation import Action, Basis, CaseFacts, authorise
from services.bootstrap import Runtime
from services.commands.case_access import acting_role
from services.identity import Principal

_INDEX_KEYS: weakref.WeakKeyDictionary[KeyProvider, BlindIndexKeys] = weakref.WeakKeyDictionary()


def index_keys(runtime: Runtime) -> BlindIndexKeys:
    """This process's blind-index keys (unwrapped once per organisation)."""
    provider = runtime.keyring.provider
    keys = _INDEX_KEYS.get(provider)
    if keys is None:
        keys = _INDEX_KEYS[provider] = BlindIndexKeys(provider)
    return keys


class FoundCase(msgspec.Struct, frozen=True, kw_only=True):
    """A case a search found: its id, whether it is open, and its client's names."""

    case_id: uuid.UUID
    is_open: bool
    preferred_name: str | None
    aliases: list[str]


class DuplicateWarning(msgspec.Struct, frozen=True, kw_only=True):
    """Cases of the organisation the intake likely duplicates (it was recorded all the same)."""

    matched_on: list[str]  # "name+date_of_birth", "phone"
    cases: int  # how many cases match, readable by the caller or not
    readable: list[uuid.UUID]  # those the caller may open


async def caseload_names(
    runtime: Runtime, principal: Principal, request_id: str | None, case_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, CaseNames]:
    """The names of the caller's own cases (listed by `projections.caseload.my_caseload`),
    recorded as one listing of the cases named (none when no name is shown)."""
    if not case_ids:
        return {}
    try:
        names = await read_case_names(
            runtime.pool, runtime.keyring, principal.organisation_id, case_ids
        )
    except ViewNotBuilt:
        return {}  # the names are not projected yet: the caseload is listed without them
    if not names:
        return names
    await record_listing(
        runtime.pool,
        tenant_id=principal.organisation_id,
        actor_id=principal.user_id,
        role=acting_role(principal, Action.CASE_LIST_MINE, Basis.ROLE),
        kind="caseload",
        case_ids=sorted(names),
        request_id=request_id,
    )
    return names


def _readable(principal: Principal, matches: Sequence[Match], team_access: bool) -> list[Match]:
    return [
        match
        for match in matches
        if authorise(
            principal,
            Action.CASE_READ,
            CaseFacts(principal.organisation_id, match.worker_id, match.team_id),
            team_access=team_access,
        ).allowed
    ]


async def search(
    runtime: Runtime,
    principal: Principal,
    request_id: str | None,
    team_access: bool,
    criteria: Sequence[Criterion],
) -> list[FoundCase]:
    """The caller's readable cases meeting every criterion, open ones first."""
    matches = await find_cases(
        runtime.pool, index_keys(runtime), principal.organisation_id, criteria
    )
    readable = _readable(principal, matches, team_access)
    names = await read_case_names(
        runtime.pool,
        runtime.keyring,
        principal.organisation_id,
        [match.case_id for match in readable],
    )
    found = [
        FoundCase(
            case_id=match.case_id,
            is_open=match.is_open,
            preferred_name=names[match.case_id].preferred_name if match.case_id in names else None,
            aliases=list(names[match.case_id].aliases) if match.case_id in names else [],
        )
        for match in readable
    ]
    await record_listing(
        runtime.pool,
        tenant_id=principal.organisation_id,
        actor_id=principal.user_id,
        role=acting_role(principal, Action.CASE_SEARCH, Basis.ROLE),
        kind="search",
        searched_by=[field for field, _ in criteria],
        case_ids=[case.case_id for case in found],
        request_id=request_id,
    )
    return found


async def likely_duplicates(
    runtime: Runtime,
    principal: Principal,
    request_id: str | None,
    team_access: bool,
    identity: Identity | None,
    contact: SafeContact | None,
    opened: uuid.UUID,
) -> DuplicateWarning | None:
    """The warning for an intake (the case `opened`), or None when nothing matches."""
    terms = case_terms(identity, contact)
    matched_on: list[str] = []
    matches: dict[uuid.UUID, Match] = {}
    for probe in duplicate_probes(terms):
        found = [
            match
            for match in await find_cases(
                runtime.pool, index_keys(runtime), principal.organisation_id, probe
            )
            if match.case_id != opened
        ]
        if found:
            matched_on.append("+".join(field for field, _ in probe))
            matches.update((match.case_id, match) for match in found)
    if not matches:
        return None
    readable = sorted(m.case_id for m in _readable(principal, list(matches.values()), team_access))
    if readable:
        await record_listing(
            runtime.pool,
            tenant_id=principal.organisation_id,
            actor_id=principal.user_id,
            role=acting_role(principal, Action.CASE_OPEN, Basis.ROLE),
            kind="search",
            searched_by=sorted({field for probe in matched_on for field in probe.split("+")}),
            case_ids=readable,
            request_id=request_id,
        )
    return DuplicateWarning(matched_on=matched_on, cases=len(matches), readable=readable)

"""The caller's organisation over HTTP (`docs/api.md#organisation`): its profile, teams,
partner organisations and worker directory.

* `GET /v1/organisation` (organisation.read, administrator): everything, inactive entries
  included; `ETag` names the organisation's version;
* `PUT /v1/organisation/profile`, `POST /v1/organisation/teams|partners|workers`
  (organisation.manage, administrator): set the profile, or one team, partner or worker (the
  whole entry; `"active": false` deactivates it). `If-Match` names the organisation's version
  (428 without it, except for the organisation's first change; 412 when stale) -> 200
  `{organisation_id, version}` with `ETag`;
* `GET /v1/organisation/teams|partners|workers` (organisation.pick: case workers,
  supervisors, the administrator): the active entries, to pick from when assigning or
  referring.
* `GET /v1/organisation/partners/{partner_id}/workers` (organisation.partner_workers: case
  workers, who ask for transfers): the active workers of a partner organisation of this
  deployment, to name a transfer's receiving worker (`services.organisations.partner_workers`);
  no such partner of the caller's is 404 `partner-not-found`, whether the organisation exists
  or not.

The answers hold organisational facts only (names of teams, partners and staff).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.openapi.spec import OpenAPIHeader, Operation, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import Body, FromPath

from domain.organisation.events import Organisation, Partner, Profile, Team, Worker
from events.store import PostgresEventStore
from services.api.cases.http import actor_of, etag, expected_version
from services.api.cases.openapi import if_match_parameter, with_headers, with_parameters
from services.api.identity_routes import BEARER_SECURITY
from services.api.responses import REFUSALS, problem_spec
from services.authorisation import Action, require
from services.bootstrap import Runtime
from services.commands.ports import Actor
from services.identity import Principal
from services.organisations import command
from services.organisations.partner_workers import partner_workers

TAGS = ["organisation"]
_CHANGE_RESPONSES = {
    **REFUSALS,
    409: problem_spec("Another change was recorded meanwhile (`concurrent-change`)."),
    412: problem_spec("The organisation is not at the version If-Match names."),
    422: problem_spec("A member breaks its rule (`validation-error`, each named by pointer)."),
    428: problem_spec("If-Match is missing (`precondition-required`)."),
}
IF_MATCH = if_match_parameter(
    "The organisation's current version as its strong entity tag (the `ETag` of "
    'the last answer), e.g. `"1"`. Required once the organisation has any entry (428 '
    "without it); another version: 412.",
    required=False,
)
_ETAG_HEADER = OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING), required=True)
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
_PARTNER_WORKERS_RESPONSES = {
    **REFUSALS,
    404: problem_spec(
        "No active partner of the caller's organisation in this deployment has this id "
        "(`partner-not-found`), whether such an organisation exists or not."
    ),
}


@dataclass
class OrganisationChangeOperation(Operation):
    """A change's operation: the If-Match (declared here so that a missing one is Haven's
    428, not litestar's 400), and the answer's ETag."""

    def __post_init__(self) -> None:
        self.parameters = with_parameters(self.parameters, IF_MATCH)
        with_headers(self.responses, "200", ETag=_ETAG_HEADER)


@dataclass
class OrganisationReadOperation(Operation):
    def __post_init__(self) -> None:
        with_headers(self.responses, "200", ETag=_ETAG_HEADER)


@dataclass
class NoStoreOperation(Operation):
    """An answer no cache keeps: its `Cache-Control` and `X-Content-Type-Options`."""

    def __post_init__(self) -> None:
        with_headers(
            self.responses,
            "200",
            **{
                name: OpenAPIHeader(
                    schema=Schema(type=OpenAPIType.STRING), required=True, description=f"`{value}`."
                )
                for name, value in NO_STORE.items()
            },
        )


class OrganisationView(msgspec.Struct, frozen=True, kw_only=True):
    organisation_id: str
    version: int  # 0: nothing recorded yet
    profile: Profile | None
    teams: list[Team]
    partners: list[Partner]
    workers: list[Worker]


class OrganisationChanged(msgspec.Struct, frozen=True):
    organisation_id: str
    version: int


class TeamList(msgspec.Struct, frozen=True):
    teams: list[Team]


class PartnerList(msgspec.Struct, frozen=True):
    partners: list[Partner]


class WorkerList(msgspec.Struct, frozen=True):
    workers: list[Worker]


class PartnerWorker(msgspec.Struct, frozen=True, kw_only=True):
    worker_id: str
    display_name: str
    team_id: str


class PartnerWorkerList(msgspec.Struct, frozen=True, kw_only=True):
    partner_id: str
    workers: list[PartnerWorker]


def view(organisation_id: str, organisation: Organisation) -> OrganisationView:
    return OrganisationView(
        organisation_id=organisation_id,
        version=organisation.version,
        profile=organisation.profile,
        teams=sorted(organisation.teams.values(), key=lambda t: (t.name, t.team_id)),
        partners=sorted(
            organisation.partners.values(), key=lambda p: (p.display_name, p.partner_id)
        ),
        workers=sorted(organisation.workers.values(), key=lambda w: (w.display_name, w.worker_id)),
    )


async def _current_view(
    request: Request[Principal, Any, Any], runtime: Runtime
) -> OrganisationView:
    organisation_id = request.user.organisation_id
    return view(organisation_id, await command.read_organisation(runtime.store, organisation_id))


Entry = TypeVar("Entry", Profile, Team, Partner, Worker)


async def _change(
    request: Request[Principal, Any, Any],
    runtime: Runtime,
    record: Callable[[PostgresEventStore, Actor, int | None, Entry], Awaitable[int]],
    entry: Entry,
) -> Response[OrganisationChanged]:
    """Record one entry (administrator, If-Match): the version reached, also as the ETag."""
    require(request.user, Action.ORGANISATION_MANAGE, None)
    version = await record(
        runtime.store, actor_of(request.user, request), expected_version(request), entry
    )
    return Response(
        OrganisationChanged(request.user.organisation_id, version), headers={"ETag": etag(version)}
    )


@get(
    "/v1/organisation",
    operation_id="getOrganisation",
    tags=TAGS,
    summary="The organisation's profile, teams, partners and workers (administrator)",
    security=BEARER_SECURITY,
    responses=REFUSALS,
    operation_class=OrganisationReadOperation,
)
async def get_organisation(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[OrganisationView]:
    require(request.user, Action.ORGANISATION_READ, None)
    found = await _current_view(request, runtime)
    return Response(found, headers={"ETag": etag(found.version)})


@put(
    "/v1/organisation/profile",
    operation_id="setOrganisationProfile",
    tags=TAGS,
    summary="Set the organisation's profile (administrator; If-Match)",
    security=BEARER_SECURITY,
    responses=_CHANGE_RESPONSES,
    operation_class=OrganisationChangeOperation,
)
async def set_profile(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    data: Annotated[Profile, Body(media_type=RequestEncodingType.JSON)],
) -> Response[OrganisationChanged]:
    return await _change(request, runtime, command.set_profile, data)


@post(
    "/v1/organisation/teams",
    operation_id="setOrganisationTeam",
    tags=TAGS,
    summary="Add, rename, deactivate or reactivate a team (administrator; If-Match)",
    security=BEARER_SECURITY,
    responses=_CHANGE_RESPONSES,
    operation_class=OrganisationChangeOperation,
    status_code=200,
)
async def set_team(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    data: Annotated[Team, Body(media_type=RequestEncodingType.JSON)],
) -> Response[OrganisationChanged]:
    return await _change(request, runtime, command.set_team, data)


@post(
    "/v1/organisation/partners",
    operation_id="setOrganisationPartner",
    tags=TAGS,
    summary="Add, change or deactivate a partner organisation (administrator; If-Match)",
    security=BEARER_SECURITY,
    responses=_CHANGE_RESPONSES,
    operation_class=OrganisationChangeOperation,
    status_code=200,
)
async def set_partner(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    data: Annotated[Partner, Body(media_type=RequestEncodingType.JSON)],
) -> Response[OrganisationChanged]:
    return await _change(request, runtime, command.set_partner, data)


@post(
    "/v1/organisation/workers",
    operation_id="setOrganisationWorker",
    tags=TAGS,
    summary="Add, change or deactivate a worker of the directory (administrator; If-Match)",
    security=BEARER_SECURITY,
    responses=_CHANGE_RESPONSES,
    operation_class=OrganisationChangeOperation,
    status_code=200,
)
async def set_worker(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    data: Annotated[Worker, Body(media_type=RequestEncodingType.JSON)],
) -> Response[OrganisationChanged]:
    return await _change(request, runtime, command.set_worker, data)


@get(
    "/v1/organisation/teams",
    operation_id="listOrganisationTeams",
    tags=TAGS,
    summary="The organisation's active teams",
    security=BEARER_SECURITY,
    responses=REFUSALS,
)
async def list_teams(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime]
) -> TeamList:
    require(request.user, Action.ORGANISATION_PICK, None)
    found = await _current_view(request, runtime)
    return TeamList([t for t in found.teams if t.active])


@get(
    "/v1/organisation/partners",
    operation_id="listOrganisationPartners",
    tags=TAGS,
    summary="The organisation's active partner organisations",
    security=BEARER_SECURITY,
    responses=REFUSALS,
)
async def list_partners(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime]
) -> PartnerList:
    require(request.user, Action.ORGANISATION_PICK, None)
    found = await _current_view(request, runtime)
    return PartnerList([p for p in found.partners if p.active])


@get(
    "/v1/organisation/workers",
    operation_id="listOrganisationWorkers",
    tags=TAGS,
    summary="The organisation's active workers, to assign cases to",
    security=BEARER_SECURITY,
    responses=REFUSALS,
)
async def list_workers(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime]
) -> WorkerList:
    require(request.user, Action.ORGANISATION_PICK, None)
    found = await _current_view(request, runtime)
    return WorkerList([w for w in found.workers if w.active])


@get(
    "/v1/organisation/partners/{partner_id:str}/workers",
    operation_id="listPartnerWorkers",
    tags=TAGS,
    summary="A partner organisation's active workers, to name a transfer's receiving worker",
    security=BEARER_SECURITY,
    responses=_PARTNER_WORKERS_RESPONSES,
    operation_class=NoStoreOperation,
)
async def list_partner_workers(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    partner_id: FromPath[str],
) -> Response[PartnerWorkerList]:
    require(request.user, Action.ORGANISATION_PARTNER_WORKERS, None)
    found = await partner_workers(runtime.store, request.user.organisation_id, partner_id)
    listed = [
        PartnerWorker(worker_id=w.worker_id, display_name=w.display_name, team_id=w.team_id)
        for w in found
    ]
    return Response(PartnerWorkerList(partner_id=partner_id, workers=listed), headers=NO_STORE)


ORGANISATION_ROUTES = [
    get_organisation,
    set_profile,
    set_team,
    set_partner,
    set_worker,
    list_teams,
    list_partners,
    list_workers,
    list_partner_workers,
]

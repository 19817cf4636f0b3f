"""Reading the service directory (`docs/directory.md`): search, one service, and the export.

* `GET /v1/directory/services` (directory.search): services of every organisation of the
  deployment answering the filters (`domain.directory.search`), by name then id, a page at a
  time (`cursor` from `next_cursor`); `fresh=true` first waits for the read model to apply
  everything committed.
* `GET /v1/directory/services/{service_id}` (directory.search): one listed service; `ETag`
  names its version (what an update's If-Match names).
* `GET /v1/directory/export?scope=own|all` (directory.export): an HSDS document of the
  organisation's listings, or of every organisation's.

Every answer is the public record: a confidential location without address, coordinates or
directions.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import ServiceUnavailableException
from litestar.params import QueryParameter

from domain.directory.document import MAX_EXPORT, export_document
from domain.directory.hsds import HsdsDocument, Organization, Service
from domain.directory.search import Query, query_faults
from domain.text import MAX_TEXT_LENGTH
from projections import checkpoints
from projections.directory import (
    DirectoryProjection,
    ListedService,
    listed_service,
    listed_services,
    search_services,
)
from services.api.caseload_routes import built
from services.api.cases.http import etag
from services.api.identity_routes import BEARER_SECURITY
from services.api.responses import REFUSALS, problem_spec
from services.authorisation import Action, NotFound, require
from services.bootstrap import Runtime
from services.commands.refusals import InvalidRequest
from services.identity import Principal

TAGS = ["directory"]
MAX_PAGE = 100
FRESH_TIMEOUT_SECONDS = 5.0
_RESPONSES = {
    **REFUSALS,
    422: problem_spec("A query parameter is invalid (`validation-error`)."),
    503: problem_spec("The directory is not built yet, or not caught up in time; retry."),
}


class DirectoryEntry(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A listed service: Haven's id, who lists it, and its HSDS organisation and service."""

    service_id: str
    listed_by: str
    version: int
    source_id: str | None = None  # its HSDS id in the document it was imported from
    organization: Organization
    service: Service


class DirectoryPage(msgspec.Struct, frozen=True, kw_only=True):
    services: list[DirectoryEntry]
    next_cursor: str | None = None


def entry(listed: ListedService) -> DirectoryEntry:
    return DirectoryEntry(
        service_id=str(listed.service_id),
        listed_by=listed.listed_by,
        version=listed.version,
        source_id=listed.source_id,
        organization=listed.record.organization,
        service=listed.record.service,
    )


def cursor_of(listed: ListedService) -> str:
    raw = msgspec.json.encode([listed.record.service.name, str(listed.service_id)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def after_cursor(cursor: str | None) -> tuple[str, uuid.UUID] | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, service_id = msgspec.json.decode(raw, type=tuple[str, uuid.UUID])
    except (binascii.Error, ValueError, msgspec.DecodeError):
        name, service_id = "", None
    if service_id is None or not 0 < len(name) <= MAX_TEXT_LENGTH or "\x00" in name:
        raise InvalidRequest([("#/query/cursor", "must be a next_cursor of this search")])
    return name, service_id


async def fresh_directory(runtime: Runtime) -> None:
    """Wait until the directory has applied everything committed so far (503 after the timeout)."""
    if not await checkpoints.wait_until_projected(
        runtime.pool,
        [DirectoryProjection.name],
        await checkpoints.log_head(runtime.pool),
        timeout=FRESH_TIMEOUT_SECONDS,
    ):
        raise ServiceUnavailableException(headers={"Retry-After": "1"})


@get(
    "/v1/directory/services",
    operation_id="searchDirectory",
    tags=TAGS,
    summary="Search the service directory of every organisation (referrals)",
    security=BEARER_SECURITY,
    responses=_RESPONSES,
)
async def search_directory(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    category: str | None = None,
    us_state: Annotated[str | None, QueryParameter(name="state")] = None,
    county: str | None = None,
    language: str | None = None,
    age: Annotated[int | None, QueryParameter(ge=0, le=130)] = None,
    gender: str | None = None,
    trafficking_type: str | None = None,
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 25,
    cursor: str | None = None,
    fresh: bool = False,
) -> DirectoryPage:
    require(request.user, Action.DIRECTORY_SEARCH, None)
    query = Query(
        category=category,
        state=us_state,
        county=county,
        language=language,
        age=age,
        gender=gender,
        trafficking_type=trafficking_type,
    )
    faults = [(f"#/query/{name}", rule) for name, rule in query_faults(query)]
    if faults:
        raise InvalidRequest(faults)
    after = after_cursor(cursor)
    if fresh:
        await fresh_directory(runtime)
    async with built():
        found = await search_services(runtime.pool, query, limit=limit + 1, after=after)
    page = found[:limit]
    return DirectoryPage(
        services=[entry(listed) for listed in page],
        next_cursor=cursor_of(page[-1]) if len(found) > limit else None,
    )


@get(
    "/v1/directory/services/{service_id:uuid}",
    operation_id="getDirectoryService",
    tags=TAGS,
    summary="One listed service; ETag names its version",
    security=BEARER_SECURITY,
    responses={**_RESPONSES, 404: problem_spec("No such service is listed (`not-found`).")},
)
async def get_directory_service(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    service_id: uuid.UUID,
    fresh: bool = False,
) -> Response[DirectoryEntry]:
    require(request.user, Action.DIRECTORY_SEARCH, None)
    if fresh:
        await fresh_directory(runtime)
    async with built():
        listed = await listed_service(runtime.pool, service_id)
    if listed is None:
        raise NotFound()
    return Response(entry(listed), headers={"ETag": etag(listed.version)})


@get(
    "/v1/directory/export",
    operation_id="exportDirectory",
    tags=TAGS,
    summary="The directory as an HSDS document: the organisation's listings, or all (admin)",
    security=BEARER_SECURITY,
    responses=_RESPONSES,
)
async def export_directory(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    listings: Annotated[Literal["own", "all"], QueryParameter(name="scope")] = "own",
    fresh: bool = False,
) -> HsdsDocument:
    principal = request.user
    require(principal, Action.DIRECTORY_EXPORT, None)
    if fresh:
        await fresh_directory(runtime)
    listed_by = principal.organisation_id if listings == "own" else None
    async with built():
        listed = await listed_services(runtime.pool, listed_by, limit=MAX_EXPORT + 1)
    if len(listed) > MAX_EXPORT:
        raise InvalidRequest(
            [("#/query/scope", f"an export holds at most {MAX_EXPORT} services: use scope=own")]
        )
    return export_document(item.record for item in listed)


DIRECTORY_READ_ROUTES = [search_directory, get_directory_service, export_directory]

"""Changing the service directory (`docs/directory.md`): the organisation's administrator
publishes, updates and withdraws its listings, and imports HSDS documents.

* `POST /v1/directory/services` (directory.publish): `{organization, service}` (HSDS) -> 201
  `{service_id, version}`, `Location` and `ETag`; sent again with the same `Idempotency-Key`,
  the same answer and nothing listed twice (`services.directory.listing.publish`);
* `PUT /v1/directory/services/{service_id}` (directory.publish): the whole record again, with
  `If-Match` -> 200; a withdrawn listing is listed again;
* `DELETE /v1/directory/services/{service_id}` (directory.publish): with `If-Match` -> 200;
* `POST /v1/directory/import?dry_run=` (directory.import): an HSDS document (at most
  `MAX_IMPORT_BYTES`) -> 200 with a report per record, or 422 when the document itself is
  unreadable.

A listing of another organisation answers 404, as a missing one does. Faults are named by
JSON pointer, never with the value.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, post, put
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.openapi.spec import OpenAPIHeader, Operation, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import Body

from domain.directory.document import DocumentRefused
from domain.directory.hsds import ServiceRecord
from services.api.cases.http import actor_of, etag, expected_version, idempotency_key
from services.api.cases.openapi import (
    IDEMPOTENCY_KEY_PARAMETER,
    if_match_parameter,
    with_headers,
    with_parameters,
)
from services.api.identity_routes import BEARER_SECURITY
from services.api.responses import REFUSALS, problem_spec
from services.authorisation import Action, require
from services.bootstrap import Runtime
from services.commands.refusals import InvalidRequest
from services.directory import listing
from services.directory.importing import ImportReport, import_document
from services.identity import Principal

TAGS = ["directory"]
MAX_IMPORT_BYTES = 4 * 1024 * 1024
_RESPONSES = {
    **REFUSALS,
    404: problem_spec("No such service is listed by your organisation (`not-found`)."),
    409: problem_spec("Another change was recorded meanwhile (`concurrent-change`)."),
    412: problem_spec("The listing is not at the version If-Match names."),
    422: problem_spec("A member breaks its rule (`validation-error`, each named by pointer)."),
    428: problem_spec("If-Match is missing (`precondition-required`)."),
}


_HEADER = OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING), required=True)


@dataclass
class PublishOperation(Operation):
    """Publishing's operation: the optional Idempotency-Key, and the answer's ETag and
    Location."""

    def __post_init__(self) -> None:
        self.parameters = with_parameters(self.parameters, IDEMPOTENCY_KEY_PARAMETER)
        with_headers(self.responses, "201", ETag=_HEADER, Location=_HEADER)


IF_MATCH = if_match_parameter(
    "The listing's current version as its strong entity tag (the `ETag` of the "
    'last answer), e.g. `"1"`. Missing: 428; another version: 412.'
)


@dataclass
class ListingCommandOperation(Operation):
    """Updating's and withdrawing's operation: the required If-Match (declared here, not as a
    litestar parameter, so that a missing one is Haven's 428), and the answer's ETag."""

    def __post_init__(self) -> None:
        self.parameters = with_parameters(self.parameters, IF_MATCH)
        with_headers(self.responses, "200", ETag=_HEADER)


def sent_idempotency_key(request: Request[Any, Any, Any]) -> str | None:
    """The request's Idempotency-Key, as case commands read it (422 when malformed)."""
    key, faults = idempotency_key(request)
    if faults:
        raise InvalidRequest(faults)
    return key


class ListingAccepted(msgspec.Struct, frozen=True):
    service_id: str
    version: int


def _answer(service_id: uuid.UUID, version: int, status: int = 200) -> Response[ListingAccepted]:
    headers = {"ETag": etag(version)}
    if status == 201:
        headers["Location"] = f"/v1/directory/services/{service_id}"
    return Response(ListingAccepted(str(service_id), version), status_code=status, headers=headers)


@post(
    "/v1/directory/services",
    operation_id="publishDirectoryService",
    tags=TAGS,
    summary="Publish a service of the organisation (administrator)",
    security=BEARER_SECURITY,
    responses=_RESPONSES,
    operation_class=PublishOperation,
    status_code=201,
)
async def publish_service(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    data: Annotated[ServiceRecord, Body(media_type=RequestEncodingType.JSON)],
) -> Response[ListingAccepted]:
    require(request.user, Action.DIRECTORY_PUBLISH, None)
    service_id, version = await listing.publish(
        runtime.store, actor_of(request.user, request), data, sent_idempotency_key(request)
    )
    return _answer(service_id, version, 201)


@put(
    "/v1/directory/services/{service_id:uuid}",
    operation_id="updateDirectoryService",
    tags=TAGS,
    summary="Replace a listed service's record (administrator; If-Match)",
    security=BEARER_SECURITY,
    responses=_RESPONSES,
    operation_class=ListingCommandOperation,
)
async def update_service(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    service_id: uuid.UUID,
    data: Annotated[ServiceRecord, Body(media_type=RequestEncodingType.JSON)],
) -> Response[ListingAccepted]:
    require(request.user, Action.DIRECTORY_PUBLISH, None)
    version = await listing.update(
        runtime.store,
        actor_of(request.user, request),
        service_id,
        expected_version(request),
        data,
    )
    return _answer(service_id, version)


@delete(
    "/v1/directory/services/{service_id:uuid}",
    operation_id="withdrawDirectoryService",
    tags=TAGS,
    summary="Withdraw a listed service from the directory (administrator; If-Match)",
    security=BEARER_SECURITY,
    responses=_RESPONSES,
    operation_class=ListingCommandOperation,
    status_code=200,
)
async def withdraw_service(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], service_id: uuid.UUID
) -> Response[ListingAccepted]:
    require(request.user, Action.DIRECTORY_PUBLISH, None)
    version = await listing.withdraw(
        runtime.store, actor_of(request.user, request), service_id, expected_version(request)
    )
    return _answer(service_id, version)


@post(
    "/v1/directory/import",
    operation_id="importDirectory",
    tags=TAGS,
    summary="Import an HSDS document, listed by the organisation (administrator)",
    security=BEARER_SECURITY,
    responses={
        **REFUSALS,
        413: problem_spec("The document is larger than the import takes."),
        422: problem_spec("The document itself cannot be read (`validation-error`)."),
    },
    request_max_body_size=MAX_IMPORT_BYTES,
    status_code=200,
)
async def import_directory(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    dry_run: bool = False,
) -> ImportReport:
    require(request.user, Action.DIRECTORY_IMPORT, None)
    body = await request.body()
    try:
        return await import_document(
            runtime.store, actor_of(request.user, request), body, dry_run=dry_run
        )
    except DocumentRefused as refused:
        raise InvalidRequest(refused.faults) from None


DIRECTORY_COMMAND_ROUTES = [publish_service, update_service, withdraw_service, import_directory]

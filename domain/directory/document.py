"""HSDS documents in and out: each record of an imported document checked on its own, and the
export of listed services as one document.

An imported document is ``{"organizations": [...], "services": [...]}``. Each service must
carry its HSDS ``id`` (what makes a re-import find it again) and name one of the document's
organisations by ``organization_id``; it is accepted with that organisation or refused with
the faults of either, each named by its JSON pointer into the document and never with the
value found there. msgspec's own messages name types and the schema's members only; the name
of an unknown member, which is the document's text, is dropped.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import Annotated, Any

import msgspec

from domain.directory.hsds import HsdsDocument, Organization, Service, ServiceRecord
from domain.directory.rules import Fault, organization_faults, public_record, service_faults

MAX_RECORDS = 2_000  # services, and organisations, of one imported document
MAX_EXPORT = 20_000  # services of one export


class _RawDocument(msgspec.Struct, forbid_unknown_fields=True):
    organizations: Annotated[list[msgspec.Raw], msgspec.Meta(max_length=MAX_RECORDS)] = []
    services: Annotated[list[msgspec.Raw], msgspec.Meta(max_length=MAX_RECORDS)] = []


class Accepted(msgspec.Struct, frozen=True, kw_only=True):
    pointer: str  # "/services/3"
    source_id: str
    record: ServiceRecord


class Refused(msgspec.Struct, frozen=True, kw_only=True):
    pointer: str
    faults: tuple[Fault, ...]


class DocumentRefused(Exception):
    """The document as a whole is not an HSDS document Haven reads."""

    def __init__(self, faults: list[Fault]) -> None:
        super().__init__("the document is refused")
        self.faults = faults


_AT = re.compile(r" - at `\$(.*)`$")
_UNKNOWN = re.compile(r"unknown field `.*?`", re.DOTALL)
_INDEX = re.compile(r"\[(\d+)\]")


def decode_faults(error: Exception, at: str) -> list[Fault]:
    """A decoding error as one fault: the pointer msgspec names, its message without the
    value (text that is not UTF-8 is named as such)."""
    if isinstance(error, UnicodeDecodeError):
        return [(at, "is not valid UTF-8 text")]
    message = str(error)
    path = ""
    matched = _AT.search(message)
    if matched is not None:
        message = message[: matched.start()]
        path = _INDEX.sub(r"/\1", matched.group(1)).replace(".", "/")
    message = _UNKNOWN.sub("an unknown field", message)
    if isinstance(error, msgspec.DecodeError) and not isinstance(error, msgspec.ValidationError):
        message = "is not valid JSON"
    return [(f"{at}{path}", message)]


def read_document(body: bytes) -> tuple[list[Accepted], list[Refused]]:
    """Every service of the document, accepted or refused; `DocumentRefused` when the
    document itself cannot be read (not JSON, not an object of these two lists, too many)."""
    try:
        raw = msgspec.json.decode(body, type=_RawDocument)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as error:
        raise DocumentRefused(decode_faults(error, "")) from None
    organizations: dict[str, Organization] = {}
    refused: list[Refused] = []
    broken: dict[str, tuple[Fault, ...]] = {}
    for index, item in enumerate(raw.organizations):
        at = f"/organizations/{index}"
        try:
            organization = msgspec.json.decode(item, type=Organization)
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as error:
            refused.append(Refused(pointer=at, faults=tuple(decode_faults(error, at))))
            continue
        faults = organization_faults(organization, at)
        if organization.id is None:
            faults.append((f"{at}/id", "must be given: services name their organisation by it"))
        elif organization.id in organizations or organization.id in broken:
            faults.append((f"{at}/id", "is the id of an earlier organisation of the document"))
        if faults:
            refused.append(Refused(pointer=at, faults=tuple(faults)))
            if organization.id is not None:
                broken.setdefault(organization.id, tuple(faults))
            continue
        assert organization.id is not None
        organizations[organization.id] = organization
    accepted: list[Accepted] = []
    seen: set[str] = set()
    for index, item in enumerate(raw.services):
        at = f"/services/{index}"
        try:
            service = msgspec.json.decode(item, type=Service)
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as error:
            refused.append(Refused(pointer=at, faults=tuple(decode_faults(error, at))))
            continue
        faults = service_faults(service, at)
        if service.id is None:
            faults.append((f"{at}/id", "must be given: a re-import finds the service by it"))
        elif service.id in seen:
            faults.append((f"{at}/id", "is the id of an earlier service of the document"))
        provider = organizations.get(service.organization_id or "")
        if service.organization_id is not None and service.organization_id in broken:
            faults.append((f"{at}/organization_id", "names an organisation that is refused"))
        elif provider is None:
            faults.append((f"{at}/organization_id", "must name an organisation of the document"))
        if faults or provider is None or service.id is None:
            refused.append(Refused(pointer=at, faults=tuple(faults)))
            continue
        seen.add(service.id)
        record = ServiceRecord(organization=provider, service=service)
        accepted.append(Accepted(pointer=at, source_id=service.id, record=record))
    return accepted, refused


def export_document(records: Iterable[ServiceRecord]) -> HsdsDocument:
    """The listed records as one HSDS document (each organisation once, first seen first),
    confidential locations without address (`public_record`), with the members HSDS requires
    (`completed`)."""
    organizations: dict[str | None, Organization] = {}
    services = []
    for record in records:
        public = completed(public_record(record))
        organizations.setdefault(public.organization.id, public.organization)
        services.append(public.service)
    return HsdsDocument(organizations=tuple(organizations.values()), services=tuple(services))


_PARTS = uuid.UUID("6f1d1c43-5b1e-5d2a-9a53-7f3b2f0c8e11")  # namespace of the parts' ids


def completed(record: ServiceRecord) -> ServiceRecord:
    """The record with what HSDS requires of every object: an `id` for each part that has
    none (a name-based UUID of its service's or organisation's id and the part's place, so
    the same record is always exported alike and an imported part keeps its id), and the
    organisation's `description` (empty when none was given)."""
    organization = _with_ids(record.organization, f"{record.organization.id or ''}/organization")
    if organization.description is None:
        organization = msgspec.structs.replace(organization, description="")
    return ServiceRecord(
        organization=organization,
        service=_with_ids(record.service, f"{record.service.id or ''}/service"),
    )


def _with_ids(value: Any, at: str) -> Any:
    if isinstance(value, msgspec.Struct):
        changes = {
            name: _with_ids(getattr(value, name), f"{at}/{name}")
            for name in value.__struct_fields__
            if name != "id"
        }
        if msgspec.structs.asdict(value).get("id", "") is None:
            changes["id"] = str(uuid.uuid5(_PARTS, at))
        return msgspec.structs.replace(value, **changes)
    if isinstance(value, list):
        return [_with_ids(item, f"{at}/{index}") for index, item in enumerate(value)]
    return value

"""What a published service may hold: each fault as (JSON pointer, rule), never the value.

Text members follow `domain.text` (by their names); the rest is checked here: identifiers,
codes, areas, ages, hours, contact forms, and **the confidential-location rule**: a location
marked ``confidential`` takes no address, no coordinates and no directions at all — Haven
refuses them rather than hiding them, so they are never stored. `public_record` strips them
all the same from whatever it is given (a listing can hold nothing of them, whatever its
source).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import msgspec

from domain.directory import taxonomy
from domain.directory.areas import AREA_RULE, parse_area
from domain.directory.hsds import Location, Organization, Service, ServiceRecord
from domain.identifiers import is_identifier
from domain.text import text_faults

Fault = tuple[str, str]

STATUSES = frozenset({"active", "inactive", "defunct", "temporarily closed"})
LOCATION_TYPES = frozenset({"physical", "postal", "virtual"})
PHONE_TYPES = frozenset({"text", "voice", "fax", "cell", "video", "pager", "textphone"})
FREQUENCIES = frozenset({"WEEKLY", "MONTHLY"})
DAYS = frozenset({"MO", "TU", "WE", "TH", "FR", "SA", "SU"})
MAX_AGE = 130

_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}")
_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}\.[A-Za-z]{2,63}")
_URL = re.compile(r"https?://[^\s]{1,2000}")
_PHONE = re.compile(r"\+?[0-9][0-9 ().\-]{2,29}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_EXTENSION = re.compile(r"[0-9]{1,10}")


def record_faults(record: ServiceRecord) -> list[Fault]:
    """Every fault of a record as the API takes it (`{organization, service}`)."""
    return [
        *organization_faults(record.organization, "/organization"),
        *service_faults(record.service, "/service"),
    ]


def organization_faults(organization: Organization, at: str) -> list[Fault]:
    faults = list(text_faults(organization, at))
    faults += _id_faults(organization.id, f"{at}/id")
    faults += _blank(organization.name, f"{at}/name")
    faults += _contact_faults(organization.email, organization.website, at, "website")
    for index, phone in enumerate(organization.phones):
        faults += _phone_faults(phone.number, phone.extension, phone.type, f"{at}/phones/{index}")
    return _first_per_pointer(faults)


def service_faults(service: Service, at: str) -> list[Fault]:
    faults = list(text_faults(service, at))
    faults += _id_faults(service.id, f"{at}/id")
    faults += _id_faults(service.organization_id, f"{at}/organization_id")
    faults += _blank(service.name, f"{at}/name")
    if service.status not in STATUSES:
        faults.append((f"{at}/status", f"must be one of {', '.join(sorted(STATUSES))}"))
    faults += _contact_faults(service.email, service.url, at, "url")
    faults += _age_faults(service, at)
    faults += _area_faults(service, at)
    for index, language in enumerate(service.languages):
        if _LANGUAGE.fullmatch(language.code) is None:
            faults.append((f"{at}/languages/{index}/code", "must be a language tag as es or es-MX"))
    for index, phone in enumerate(service.phones):
        faults += _phone_faults(phone.number, phone.extension, phone.type, f"{at}/phones/{index}")
    faults += _schedule_faults(service, at)
    faults += _cost_faults(service, at)
    faults += _attribute_faults(service, at)
    for index, placed in enumerate(service.service_at_locations):
        faults += location_faults(placed.location, f"{at}/service_at_locations/{index}/location")
    return _first_per_pointer(faults)


def location_faults(location: Location, at: str) -> list[Fault]:
    faults: list[Fault] = []
    if location.location_type not in LOCATION_TYPES:
        faults.append((f"{at}/location_type", "must be physical, postal or virtual"))
    if location.confidential:
        rule = "a confidential location takes no address, coordinates or directions"
        for member in ("addresses", "latitude", "longitude", "transportation"):
            if getattr(location, member) not in (None, [], ()):
                faults.append((f"{at}/{member}", rule))
        return faults
    if location.latitude is not None and not -90 <= location.latitude <= 90:
        faults.append((f"{at}/latitude", "must be from -90 to 90"))
    if location.longitude is not None and not -180 <= location.longitude <= 180:
        faults.append((f"{at}/longitude", "must be from -180 to 180"))
    return faults


def public_record(record: ServiceRecord) -> ServiceRecord:
    """The record as it may be listed and exported: a confidential location without address,
    coordinates or directions (there are none to strip in what Haven accepted)."""
    service = record.service
    if not any(p.location.confidential for p in service.service_at_locations):
        return record
    placed = [
        msgspec.structs.replace(
            p,
            location=msgspec.structs.replace(
                p.location, addresses=[], latitude=None, longitude=None, transportation=None
            ),
        )
        if p.location.confidential
        else p
        for p in service.service_at_locations
    ]
    return msgspec.structs.replace(
        record, service=msgspec.structs.replace(service, service_at_locations=placed)
    )


def _first_per_pointer(faults: list[Fault]) -> list[Fault]:
    seen: dict[str, str] = {}
    for pointer, rule in faults:
        seen.setdefault(pointer, rule)
    return list(seen.items())


def _id_faults(value: str | None, at: str) -> Iterator[Fault]:
    if value is not None and not is_identifier(value):
        yield at, "must be an identifier (1 to 256 printable characters)"


def _blank(value: str, at: str) -> Iterator[Fault]:
    if not value.strip():
        yield at, "must not be empty"


def _contact_faults(email: str | None, url: str | None, at: str, url_member: str) -> list[Fault]:
    faults = []
    if email is not None and _EMAIL.fullmatch(email) is None:
        faults.append((f"{at}/email", "must be an email address"))
    if url is not None and _URL.fullmatch(url) is None:
        faults.append((f"{at}/{url_member}", "must be an http or https URL"))
    return faults


def _phone_faults(number: str, extension: str | None, kind: str | None, at: str) -> list[Fault]:
    faults = []
    if _PHONE.fullmatch(number) is None:
        faults.append((f"{at}/number", "must be a telephone number (digits, +, spaces, -().)"))
    if extension is not None and _EXTENSION.fullmatch(extension) is None:
        faults.append((f"{at}/extension", "must be 1 to 10 digits"))
    if kind is not None and kind not in PHONE_TYPES:
        faults.append((f"{at}/type", f"must be one of {', '.join(sorted(PHONE_TYPES))}"))
    return faults


def _age_faults(service: Service, at: str) -> list[Fault]:
    faults = []
    for member in ("minimum_age", "maximum_age"):
        age = getattr(service, member)
        if age is not None and not 0 <= age <= MAX_AGE:
            faults.append((f"{at}/{member}", f"must be from 0 to {MAX_AGE}"))
    low, high = service.minimum_age, service.maximum_age
    if not faults and low is not None and high is not None and low > high:
        faults.append((f"{at}/maximum_age", "must not be below minimum_age"))
    return faults


def _area_faults(service: Service, at: str) -> list[Fault]:
    if not service.service_areas:
        return [(f"{at}/service_areas", "must name at least one state or county served")]
    faults = []
    for index, area in enumerate(service.service_areas):
        if area.extent_type != "text":
            faults.append((f"{at}/service_areas/{index}/extent_type", 'must be "text"'))
        elif parse_area(area.extent) is None:
            faults.append((f"{at}/service_areas/{index}/extent", AREA_RULE))
    return faults


def _schedule_faults(service: Service, at: str) -> list[Fault]:
    faults = []
    for index, schedule in enumerate(service.schedules):
        here = f"{at}/schedules/{index}"
        if schedule.freq is not None and schedule.freq not in FREQUENCIES:
            faults.append((f"{here}/freq", "must be WEEKLY or MONTHLY"))
        if schedule.byday is not None and not set(schedule.byday.split(",")) <= DAYS:
            faults.append((f"{here}/byday", "must be days as MO,TU,WE (MO to SU)"))
        for member in ("opens_at", "closes_at"):
            value = getattr(schedule, member)
            if value is not None and _TIME.fullmatch(value) is None:
                faults.append((f"{here}/{member}", "must be a time of day as 09:00"))
    return faults


def _cost_faults(service: Service, at: str) -> list[Fault]:
    faults = []
    for index, cost in enumerate(service.cost_options):
        here = f"{at}/cost_options/{index}"
        if cost.amount is not None and not 0 <= cost.amount <= 1_000_000:
            faults.append((f"{here}/amount", "must be from 0 to 1000000"))
        if cost.currency is not None and _CURRENCY.fullmatch(cost.currency) is None:
            faults.append((f"{here}/currency", "must be an ISO 4217 code as USD"))
    return faults


def _attribute_faults(service: Service, at: str) -> list[Fault]:
    faults = []
    categories = 0
    for index, attribute in enumerate(service.attributes):
        term = attribute.taxonomy_term
        known = taxonomy.TAXONOMIES.get(term.taxonomy)
        if known is not None and term.code not in known:
            faults.append(
                (f"{at}/attributes/{index}/taxonomy_term/code", f"is not a code of {term.taxonomy}")
            )
        categories += term.taxonomy == taxonomy.CATEGORY and term.code in (known or ())
    if not categories and not faults:
        faults.append(
            (f"{at}/attributes", f"must name at least one category of {taxonomy.CATEGORY}")
        )
    return faults

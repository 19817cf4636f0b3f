"""The subset of HSDS 3 that Haven keeps, as msgspec Structs with HSDS's own field names.

A service is published with its organisation (`ServiceRecord`); a directory document
(`HsdsDocument`) is the flat HSDS form of many: ``organizations`` and ``services``, linked by
``organization_id``. Members outside this subset are refused, never silently dropped, so
what is imported is exactly what is stored and exported. One member is Haven's own:
``location.confidential`` (a location whose address is never accepted, listed or exported,
`domain.directory.rules`). HSDS's ``contacts`` (named people) are not part of it: a listing
holds the organisation's public phone, email and website, never a person.

Sizes are bounded here (list lengths) and in `rules` (text), so that a hostile document is
refused before anything is stored.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

Many = 50  # items of one list of a record
Few = 10


class Hsds(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    pass


class Phone(Hsds, frozen=True, kw_only=True):
    id: str | None = None
    number: str
    extension: str | None = None
    type: str | None = None  # HSDS: text, voice, fax, cell, video, pager, textphone
    description: str | None = None


class Address(Hsds, frozen=True, kw_only=True):
    id: str | None = None
    attention: str | None = None
    address_1: str
    address_2: str | None = None
    city: str
    region: str | None = None
    state_province: str
    postal_code: str
    country: str = "US"
    address_type: str = "physical"


class Location(Hsds, frozen=True, kw_only=True):
    id: str | None = None
    location_type: str = "physical"  # physical, postal, virtual
    name: str | None = None
    description: str | None = None
    transportation: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    addresses: Annotated[list[Address], msgspec.Meta(max_length=Few)] = []
    # Haven's member: the location's whereabouts are confidential (a shelter): no address,
    # coordinates or directions are accepted for it, and it is listed by name only.
    confidential: bool = False


class ServiceAtLocation(Hsds, frozen=True, kw_only=True):
    id: str | None = None
    description: str | None = None
    location: Location


class Language(Hsds, frozen=True, kw_only=True):
    id: str | None = None
    name: str | None = None
    code: str  # a BCP 47 tag: "es", "es-MX", "fil"
    note: str | None = None


class ServiceArea(Hsds, frozen=True, kw_only=True):
    """`extent_type` "text" with `extent` "US-IL" (a state, ISO 3166-2) or "US-IL-17167" (a
    county: its five-digit FIPS code, in its state)."""

    id: str | None = None
    name: str | None = None
    description: str | None = None
    extent: str
    extent_type: str = "text"


class Schedule(Hsds, frozen=True, kw_only=True):
    """Opening hours (HSDS's iCalendar-like schedule): e.g. WEEKLY on MO,TU,WE from 09:00
    to 17:00; `description` for what the structure cannot say."""

    id: str | None = None
    freq: str | None = None  # WEEKLY, MONTHLY
    byday: str | None = None  # "MO,TU,WE"
    opens_at: str | None = None  # "09:00"
    closes_at: str | None = None
    description: str | None = None


class CostOption(Hsds, frozen=True, kw_only=True):
    id: str | None = None
    option: str | None = None
    amount: float | None = None
    currency: str | None = None  # ISO 4217: USD
    amount_description: str | None = None


class TaxonomyTerm(Hsds, frozen=True, kw_only=True):
    id: str | None = None
    code: str
    name: str | None = None
    taxonomy: str  # Haven's taxonomies are in `domain.directory.taxonomy`; others are kept as given


class Attribute(Hsds, frozen=True, kw_only=True):
    """A service's classification: its categories and structured eligibility."""

    id: str | None = None
    link_type: str | None = None
    value: str | None = None
    taxonomy_term: TaxonomyTerm


class Organization(Hsds, frozen=True, kw_only=True):
    id: str | None = None
    name: str
    alternate_name: str | None = None
    description: str | None = None
    email: str | None = None
    website: str | None = None
    phones: Annotated[list[Phone], msgspec.Meta(max_length=Few)] = []


class Service(Hsds, frozen=True, kw_only=True):
    id: str | None = None
    organization_id: str | None = None
    name: str
    alternate_name: str | None = None
    description: str | None = None
    url: str | None = None
    email: str | None = None
    status: str = "active"  # active, inactive, defunct, temporarily closed
    interpretation_services: str | None = None
    application_process: str | None = None
    fees_description: str | None = None
    eligibility_description: str | None = None
    minimum_age: int | None = None
    maximum_age: int | None = None
    alert: str | None = None
    phones: Annotated[list[Phone], msgspec.Meta(max_length=Few)] = []
    schedules: Annotated[list[Schedule], msgspec.Meta(max_length=Many)] = []
    service_areas: Annotated[list[ServiceArea], msgspec.Meta(max_length=Many * 4)] = []
    languages: Annotated[list[Language], msgspec.Meta(max_length=Many)] = []
    cost_options: Annotated[list[CostOption], msgspec.Meta(max_length=Few)] = []
    attributes: Annotated[list[Attribute], msgspec.Meta(max_length=Many)] = []
    service_at_locations: Annotated[list[ServiceAtLocation], msgspec.Meta(max_length=Few)] = []


class ServiceRecord(Hsds, frozen=True, kw_only=True):
    """One published service and the organisation that provides it."""

    organization: Organization
    service: Service


class HsdsDocument(Hsds, frozen=True, kw_only=True, omit_defaults=False):
    """A directory in HSDS's flat form: services name their organisation by `organization_id`."""

    organizations: tuple[Organization, ...] = ()
    services: tuple[Service, ...] = ()

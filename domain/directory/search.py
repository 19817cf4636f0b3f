"""What a search matches: the facets of a service (`facets`) against a query (`matches`).

The read model stores each service's facets in plain columns and answers a search with the
same rules in SQL (`projections.directory`); these functions are the rules, and the tests
hold the SQL to them.

* category: one of the service's `haven-service-category` terms;
* state: any of its areas is in the state (the whole state, or a county of it);
* county: one of its areas is that county, or the whole of the county's state;
* language: a language the service is offered in (by primary subtag: "es" finds "es-MX");
* age: within the service's minimum and maximum age (a missing bound does not limit);
* gender, trafficking_type: listed among those served, or none listed (all are served).
"""

from __future__ import annotations

import msgspec

from domain.directory import taxonomy
from domain.directory.areas import county_state, parse_area
from domain.directory.hsds import Service


class Facets(msgspec.Struct, frozen=True, kw_only=True):
    categories: tuple[str, ...]
    states: tuple[str, ...]  # every state with an area (USPS codes)
    statewide: tuple[str, ...]  # states served whole
    counties: tuple[str, ...]  # counties served (FIPS codes)
    languages: tuple[str, ...]  # primary subtags, lower case
    minimum_age: int | None
    maximum_age: int | None
    genders: tuple[str, ...]
    trafficking_types: tuple[str, ...]


class Query(msgspec.Struct, frozen=True, kw_only=True):
    category: str | None = None
    state: str | None = None
    county: str | None = None
    language: str | None = None
    age: int | None = None
    gender: str | None = None
    trafficking_type: str | None = None


def _terms(service: Service, name: str) -> tuple[str, ...]:
    known = taxonomy.TAXONOMIES[name]
    return tuple(
        sorted(
            {
                a.taxonomy_term.code
                for a in service.attributes
                if a.taxonomy_term.taxonomy == name and a.taxonomy_term.code in known
            }
        )
    )


def primary_language(code: str) -> str:
    return code.split("-", 1)[0].lower()


def facets(service: Service) -> Facets:
    areas = [a for a in (parse_area(area.extent) for area in service.service_areas) if a]
    return Facets(
        categories=_terms(service, taxonomy.CATEGORY),
        states=tuple(sorted({a.state for a in areas})),
        statewide=tuple(sorted({a.state for a in areas if a.county is None})),
        counties=tuple(sorted({a.county for a in areas if a.county is not None})),
        languages=tuple(sorted({primary_language(lang.code) for lang in service.languages})),
        minimum_age=service.minimum_age,
        maximum_age=service.maximum_age,
        genders=_terms(service, taxonomy.GENDER),
        trafficking_types=_terms(service, taxonomy.TRAFFICKING_TYPE),
    )


def matches(query: Query, found: Facets) -> bool:
    """Whether a service with these facets answers the query (every filter given must hold)."""
    if query.category is not None and query.category not in found.categories:
        return False
    if query.state is not None and query.state not in found.states:
        return False
    if query.county is not None and not (
        query.county in found.counties or county_state(query.county) in found.statewide
    ):
        return False
    if query.language is not None and primary_language(query.language) not in found.languages:
        return False
    if query.age is not None and not (
        (found.minimum_age is None or found.minimum_age <= query.age)
        and (found.maximum_age is None or query.age <= found.maximum_age)
    ):
        return False
    if query.gender is not None and found.genders and query.gender not in found.genders:
        return False
    return not (
        query.trafficking_type is not None
        and found.trafficking_types
        and query.trafficking_type not in found.trafficking_types
    )


def query_faults(query: Query) -> list[tuple[str, str]]:
    """(parameter, rule) for each filter that names nothing a service could match."""
    faults = []
    if query.category is not None and query.category not in taxonomy.TAXONOMIES[taxonomy.CATEGORY]:
        faults.append(("category", f"must be a code of {taxonomy.CATEGORY}"))
    if query.state is not None and parse_area(f"US-{query.state}") is None:
        faults.append(("state", "must be a state's USPS code as IL"))
    if query.county is not None and county_state(query.county) is None:
        faults.append(("county", "must be a county's five-digit FIPS code as 17167"))
    if query.language is not None and not (
        2 <= len(query.language) <= 35
        and query.language.replace("-", "").isascii()
        and query.language.replace("-", "").isalnum()
    ):
        faults.append(("language", "must be a language tag as es or es-MX"))
    if query.age is not None and not 0 <= query.age <= 130:
        faults.append(("age", "must be from 0 to 130"))
    if query.gender is not None and query.gender not in taxonomy.TAXONOMIES[taxonomy.GENDER]:
        faults.append(("gender", f"must be a code of {taxonomy.GENDER}"))
    if (
        query.trafficking_type is not None
        and query.trafficking_type not in taxonomy.TAXONOMIES[taxonomy.TRAFFICKING_TYPE]
    ):
        faults.append(("trafficking_type", f"must be a code of {taxonomy.TRAFFICKING_TYPE}"))
    return faults

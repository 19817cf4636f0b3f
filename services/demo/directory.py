"""The demo's service directory: a few fictitious services listed by each demo organisation,
so that a case worker of `haven serve --demo` finds somewhere to refer a client.

Every organisation, service, phone number and web address is invented (`.example` domains,
555-01xx numbers); the shelters are confidential locations, listed without an address.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from domain.directory import taxonomy
from domain.directory.areas import STATE_FIPS
from domain.directory.hsds import (
    Attribute,
    CostOption,
    Language,
    Location,
    Organization,
    Phone,
    Schedule,
    Service,
    ServiceArea,
    ServiceAtLocation,
    ServiceRecord,
    TaxonomyTerm,
)
from events.store import PostgresEventStore
from services.commands.ports import Actor
from services.directory.listing import publish

STATES = ("IL", "IN", "WI")
# (service name, categories, eligibility, minimum age, confidential location)
OFFERS: tuple[tuple[str, tuple[str, ...], str, int | None, bool], ...] = (
    ("Immigration legal help", ("legal_immigration",), "Survivors of trafficking.", 18, False),
    ("Emergency shelter", ("housing_shelter", "basic_necessities"), "Women and children.", None,
     True),
    ("Counselling", ("mental_health",), "Adults and young people from 12.", 12, False),
    ("Community clinic", ("medical", "dental"), "Anyone, insured or not.", None, False),
    ("Interpreting line", ("interpretation_translation",), "Partner organisations.", None, False),
    ("Job readiness", ("employment", "education", "life_skills"), "Adults.", 18, False),
)  # fmt: skip
LANGUAGES = ("en", "es", "fil", "zh-Hans", "ar", "ht")


def _term(code: str, name: str = taxonomy.CATEGORY) -> Attribute:
    return Attribute(taxonomy_term=TaxonomyTerm(code=code, taxonomy=name, name=None))


def demo_listing(organisation_id: str, index: int, rng: random.Random) -> ServiceRecord:
    name, categories, eligibility, minimum_age, confidential = OFFERS[index % len(OFFERS)]
    slug = organisation_id.removeprefix("org-")
    state = STATES[index % len(STATES)]
    county = f"{STATE_FIPS[state]}{rng.randrange(1, 200, 2):03}"
    attributes = [_term(code) for code in categories]
    if confidential:
        attributes.append(_term("woman", taxonomy.GENDER))
    location = Location(
        name=f"Example {name.lower()} site",
        confidential=confidential,
        description="Whereabouts given on referral only." if confidential else None,
    )
    return ServiceRecord(
        organization=Organization(
            name=f"Example {slug.title()} Services",
            email=f"referrals@{slug}.example",
            website=f"https://{slug}.example",
            phones=[Phone(number=f"+1 217 555 01{index % 100:02}", type="voice")],
        ),
        service=Service(
            name=name,
            description=f"{name}, offered by a fictitious organisation of the demo.",
            eligibility_description=eligibility,
            minimum_age=minimum_age,
            fees_description="Free of charge.",
            cost_options=[CostOption(option="Free", amount=0, currency="USD")],
            service_areas=[
                ServiceArea(name=f"{state} county {county}", extent=f"US-{state}-{county}")
                if confidential
                else ServiceArea(name=state, extent=f"US-{state}")
            ],
            languages=[Language(code=code) for code in rng.sample(LANGUAGES, 2)],
            schedules=[
                Schedule(freq="WEEKLY", byday="MO,TU,WE,TH,FR", opens_at="09:00", closes_at="17:00")
            ],
            attributes=attributes,
            service_at_locations=[ServiceAtLocation(location=location)],
        ),
    )


async def seed_directory(
    store: PostgresEventStore, organisation_ids: Sequence[str], *, seed: int = 0
) -> int:
    """List the demo organisations' services (their administrators publish them); how many."""
    rng = random.Random(seed)
    listed = 0
    for number, organisation_id in enumerate(organisation_ids):
        actor = Actor(f"admin-{organisation_id.removeprefix('org-')}", organisation_id)
        for index in range(number, number + 4):
            await publish(store, actor, demo_listing(organisation_id, index, rng))
            listed += 1
    return listed

"""Fictitious details of a demo client: names, contacts, families, backgrounds.

Nothing resembles a real person: clients are "Client <Word> <number>" after nature words,
never given names; phone numbers are 555-01xx, e-mail addresses are at example.org, places
are "Fictional locality n", and every free-text note says it is synthetic.
"""

from __future__ import annotations

import datetime as dt
import random

from domain.case.values import ContactChannel, FamilyServed, SafeContact, TraffickingContext
from domain.codebook import CURRENT
from services.demo.draws import draw_some, draw_weighted

# Obviously fictitious: nature words, never given names.
WORDS = (
    "Acorn",
    "Basalt",
    "Cobalt",
    "Drift",
    "Ember",
    "Fjord",
    "Granite",
    "Heron",
    "Indigo",
    "Juniper",
    "Kelp",
    "Lichen",
    "Mesa",
    "Nimbus",
    "Obsidian",
    "Pebble",
    "Quartz",
    "Reef",
    "Slate",
    "Thistle",
    "Umber",
    "Vale",
    "Wren",
    "Yucca",
    "Zephyr",
)
OBJECTS = ("lantern", "kettle", "compass", "teacup", "ladder", "anchor", "feather", "marble")
SAFE_TIMES = ("weekday mornings", "after work hours", "weekends only", "any time", "lunchtime")


def service_fits(category: str, foreign: bool, interpreter: bool, children: bool) -> bool:
    """Whether a client of this kind can be offered the service category."""
    return {
        "repatriation": foreign,
        "legal_immigration": foreign,
        "interpretation_translation": interpreter,
        "childcare": children,
    }.get(category, True)


def birth_date(rng: random.Random, intake_on: dt.date, age: int) -> dt.date:
    """A birthday that makes the client exactly `age` on the intake date."""
    birth = dt.date(intake_on.year - age, 1, 1) + dt.timedelta(days=rng.randint(0, 364))
    if (birth.month, birth.day) == (2, 29):
        birth = birth.replace(day=28)
    if (birth.month, birth.day) > (intake_on.month, intake_on.day):
        birth = birth.replace(year=birth.year - 1)
    return birth


def family(rng: random.Random, age: int) -> FamilyServed:
    if age < 18:
        return FamilyServed(parents=rng.choice((0, 0, 1, 2)), siblings=rng.choice((0, 0, 0, 1, 2)))
    return FamilyServed(
        spouse=1 if rng.random() < 0.2 else 0,
        children_under_18=rng.choice((0, 0, 0, 1, 2, 3)) if age < 50 else 0,
        children_18_plus=rng.choice((0, 0, 1, 2)) if age >= 40 else 0,
    )


def race(rng: random.Random) -> tuple[str, ...]:
    weights = {
        "hispanic_latino": 24,
        "black_african_american": 20,
        "white": 22,
        "asian": 14,
        "american_indian_alaska_native": 4,
        "native_hawaiian_pacific_islander": 2,
        "middle_eastern_north_african": 4,
        "not_reported": 10,
    }
    first = draw_weighted(rng, weights)
    if first == "not_reported" or rng.random() < 0.85:
        return (first,)
    second = draw_weighted(
        rng, {k: v for k, v in weights.items() if k not in (first, "not_reported")}
    )
    return tuple(sorted((first, second)))


def contact(rng: random.Random, n: int, word: str) -> SafeContact:
    phone = f"555-01{rng.randint(0, 99):02d}"  # reserved for fiction
    options = [
        ContactChannel(
            channel="phone_call",
            detail=phone,
            safe_times=rng.choice(SAFE_TIMES),
            may_leave_message=rng.random() < 0.3,
        ),
        ContactChannel(channel="text_message", detail=phone, safe_times=rng.choice(SAFE_TIMES)),
        ContactChannel(channel="email", detail=f"client.{word.lower()}{n}@example.org"),
        ContactChannel(channel="in_person", detail="At the demo office only"),
        ContactChannel(channel="through_advocate", detail="Demo advocate desk"),
    ]
    channels = tuple(rng.sample(options, rng.randint(1, 2)))
    return SafeContact(
        channels=channels,
        code_word=f"{rng.choice(WORDS).lower()} {rng.choice(OBJECTS)}",
        notes="Synthetic contact note: never contact through a relative."
        if rng.random() < 0.2
        else None,
    )


def trafficking_context(
    rng: random.Random, kind: str, *, minor: bool, foreign: bool
) -> TraffickingContext:
    codes = CURRENT.lists
    sex, labor = kind in ("sex", "both"), kind in ("labor", "both")
    recruitment_pool = ["internet", "intimate_partner", "familial", "other"] if sex else []
    if labor or kind == "unknown":
        recruitment_pool += ["job_offer", "job_offer", "other"]
    if rng.random() < 0.05:
        recruitment_pool.append("abduction")
    vulnerabilities = [
        "poverty",
        "substance_use",
        "mental_health",
        "homelessness",
        "domestic_violence",
        "disability",
        "other",
    ]
    if minor:
        vulnerabilities += [
            "runaway",
            "runaway",
            "child_welfare_involvement",
            "child_welfare_involvement",
        ]
    if foreign:
        vulnerabilities += ["recent_migration", "recent_migration", "poverty"]
    unknown = kind == "unknown"
    return TraffickingContext(
        trafficking_type=kind,
        commercial_sex_act=sex and (minor or rng.random() < 0.92),
        recruitment=draw_some(rng, recruitment_pool, 0 if unknown else 1, 2),
        control_methods=draw_some(rng, codes["control_method"], 0 if unknown else 2, 5),
        labor_industries=draw_some(rng, codes["labor_industry"], 1, 2) if labor else (),
        sex_exploitation=draw_some(rng, codes["sex_exploitation"], 1, 2) if sex else (),
        vulnerabilities=tuple(sorted(set(rng.sample(vulnerabilities, rng.randint(1, 3))))),
        recruitment_location=f"Fictional locality {rng.randint(1, 40)}"
        if rng.random() < 0.6
        else None,
        exploitation_location=f"Fictional locality {rng.randint(1, 40)}"
        if rng.random() < 0.6
        else None,
        narrative="Synthetic narrative for the demo; it describes no real person or place."
        if rng.random() < 0.5
        else None,
    )


def outcome_domains(rng: random.Random) -> tuple[str, ...]:
    """The outcome domains a client is scored on: three always, some of the others."""
    others = [
        d
        for d in CURRENT.lists["outcome_domain"]
        if d not in ("safety", "housing_stability", "mental_health")
    ]
    return (
        "housing_stability",
        "mental_health",
        "safety",
        *rng.sample(others, rng.randint(1, len(others))),
    )

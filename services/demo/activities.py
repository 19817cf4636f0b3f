"""The demo's outreach, training, technical-assistance and public-awareness activities.

Pure and deterministic, from its own `random.Random`: each organisation, in each of the
quarters up to `today`, trains a few audiences, holds outreach events, gives technical
assistance to other providers and at times runs a public-awareness effort, each with its
sectors and participants, hours, languages, delivery, the area it served (the organisation's
state and a few of its counties as FIPS codes, never an address) and a topic. Every activity
is held to the record's own rules (`domain.outreach.activity.activity_faults`) as it is
planned: a fault is a bug of the generator, raised at once.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from domain.outreach.activity import Activity, AreaServed, AudienceGroup, activity_faults
from domain.outreach.codes import STATES
from services.commands.ports import Actor
from services.demo.organisations import Organisation
from services.demo.quarters import day_in, quarters_before

HOME_STATES = ("IL", "IN", "WI")  # the demo organisations' states, in turn
# kind -> (activities per organisation and quarter: low, high), sectors reached, participants
# per sector (low, high), hours (low, high, in quarter hours)
KINDS: Mapping[str, tuple[tuple[int, int], tuple[str, ...], tuple[int, int], tuple[int, int]]] = {
    "training": (
        (1, 3),
        ("law_enforcement", "health_care", "education", "child_welfare", "legal",
         "other_service_providers", "hospitality", "labour", "prosecution", "mental_health"),
        (6, 45),
        (4, 28),
    ),
    "outreach_event": (
        (1, 3),
        ("community", "faith", "youth", "labour", "hospitality", "transportation"),
        (10, 150),
        (4, 16),
    ),
    "technical_assistance": (
        (0, 2),
        ("other_service_providers", "government", "health_care", "child_welfare", "courts"),
        (1, 6),
        (2, 12),
    ),
    "public_awareness": (
        (0, 1),
        ("community", "youth", "business", "education"),
        (25, 300),
        (4, 12),
    ),
}  # fmt: skip
TOPICS: Mapping[str, tuple[str, ...]] = {
    "training": (
        "Recognising indicators of labour trafficking",
        "Trauma-informed interviewing",
        "Screening young people for commercial sexual exploitation",
        "Safe referral pathways for survivors",
        "Immigration relief for survivors: an overview",
    ),
    "outreach_event": (
        "Know your rights at work",
        "Where to find help: services in the county",
        "Safe jobs and fair recruitment",
    ),
    "technical_assistance": (
        "Setting up a screening protocol",
        "Building a multidisciplinary response team",
        "Data protection for victim service records",
    ),
    "public_awareness": (
        "Trafficking awareness month campaign",
        "Hotline awareness in transit stations",
    ),
}
LANGUAGES: Mapping[tuple[str, ...], float] = {("en",): 62, ("en", "es"): 28, ("es",): 7,
                                              ("en", "ase"): 3}  # fmt: skip


class PlannedActivity(NamedTuple):
    actor: Actor
    activity: Activity


def home_state(index: int) -> str:
    return HOME_STATES[index % len(HOME_STATES)]


def _activity(rng: random.Random, kind: str, day: dt.date, state: str) -> Activity:
    _, sectors, (low, high), (fewest, most) = KINDS[kind]
    reached = rng.sample(sectors, rng.choice((1, 1, 2, 3)))
    counties = sorted(
        {f"{STATES[state]}{rng.randrange(1, 200, 2):03}" for _ in range(rng.randint(0, 3))}
    )
    remote = {"training": 0.3, "technical_assistance": 0.6}.get(kind, 0.05)
    return Activity(
        held_on=day,
        kind=kind,
        audience=tuple(
            AudienceGroup(sector=sector, participants=rng.randint(low, high))
            for sector in sorted(reached)
        ),
        hours=rng.randint(fewest, most) * 0.25,
        languages=rng.choices(tuple(LANGUAGES), tuple(LANGUAGES.values()))[0],
        delivery="remote" if rng.random() < remote else "in_person",
        area=AreaServed(state=state, counties=tuple(counties)),
        topic=rng.choice(TOPICS[kind]),
    )


def plan_activities(
    seed: int, organisations: Sequence[Organisation], today: dt.date, quarters: int
) -> tuple[PlannedActivity, ...]:
    """Each organisation's activities in each of the `quarters` quarters up to `today`,
    recorded by its outreach staff; by day."""
    rng = random.Random(f"demo-activities-{seed}")
    planned = []
    for index, org in enumerate(organisations):
        actor = Actor(f"outreach-{org.id.removeprefix('org-')}", org.id, "demo-activities")
        for first, last in quarters_before(today, quarters):
            for kind, ((low, high), *_) in KINDS.items():
                for _ in range(rng.randint(low, high)):
                    activity = _activity(rng, kind, day_in(rng, first, last), home_state(index))
                    faults = activity_faults(activity, today)
                    if faults:
                        raise AssertionError(f"the demo planned an invalid activity: {faults}")
                    planned.append(PlannedActivity(actor, activity))
    return tuple(sorted(planned, key=lambda p: (p.activity.held_on, p.actor.organisation_id)))

"""The demo's screenings: people screened with the default instrument, most of whom never
become clients, and the screenings behind the demo's open cases.

Pure and deterministic, from its own `random.Random` and the case plan (which it only reads:
the cases' streams stay exactly those of `demo_plan`). Two kinds are planned:

* **standalone** screenings, per organisation and quarter: outreach staff screening at events,
  on the hotline, in clinics and schools, and intake workers screening walk-ins. They hold no
  identifying data at all (`domain.screening.screening`); their results fall mostly on
  `no_indicators` and `indicators_present`, fewer on `strong_indicators` and `confirmed`.
* **linked** screenings, for most cases open at the end of the plan: recorded on the case by
  its worker, dated on the intake day, in the setting the intake came through, with a result
  that agrees with the case's victim status; each is followed by a determination of that same
  status naming the screening (`DetermineVictimStatus` with `screening_ids`).

The answers are drawn for a target result and the instrument's own rule scores them; a score
other than the target is a bug of the generator, raised at once.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from domain.case import commands as cmd
from domain.case.state import CaseState, fold
from domain.case.values import VictimStatus
from domain.screening.instrument import Instrument
from domain.screening.scoring import score
from domain.screening.screening import Indicator, RecordScreening
from services.commands.ports import Actor
from services.demo.draws import draw_weighted
from services.demo.organisations import Organisation
from services.demo.plan import DemoPlan
from services.demo.quarters import day_in, quarters_before

STANDALONE_PER_QUARTER = (3, 7)  # per organisation and quarter, each end included
LINKED_SHARE = 0.7  # of the cases open at the end of the plan
STANDALONE_RESULTS: Mapping[str, float] = {
    "no_indicators": 50,
    "indicators_present": 28,
    "strong_indicators": 16,
    "confirmed": 6,
}
STANDALONE_SETTINGS: Mapping[str, float] = {
    "outreach": 28,
    "hotline": 16,
    "clinic": 14,
    "school": 8,
    "child_welfare": 6,
    "law_enforcement_referral": 8,
    "shelter_intake": 10,
    "legal_services": 6,
    "other": 4,
}
# settings where the organisation's outreach staff screen; elsewhere an intake worker does
OUTREACH_SETTINGS = frozenset({"outreach", "hotline", "school", "other"})
INTAKE_SETTINGS: Mapping[str, tuple[str, ...]] = {
    "referral": ("clinic", "legal_services", "other"),
    "hotline": ("hotline",),
    "law_enforcement": ("law_enforcement_referral",),
    "walk_in": ("shelter_intake",),
    "outreach": ("outreach",),
}


class PlannedScreening(NamedTuple):
    role: str  # the role of who records it: caseworker or outreach
    team_id: str
    command: RecordScreening
    result: str  # what the instrument's rule gives (checked when planned)


class PlannedDetermination(NamedTuple):
    actor: Actor
    case_id: str
    command: cmd.DetermineVictimStatus
    expected_version: int  # the case's version at the end of the case plan


class ScreeningPlan(NamedTuple):
    standalone: tuple[PlannedScreening, ...]
    linked: tuple[PlannedScreening, ...]
    determinations: tuple[PlannedDetermination, ...]


def answers_for(
    rng: random.Random, instrument: Instrument, target: str, minor: str
) -> tuple[Indicator, ...]:
    """Answers to every item of `instrument` that its rule scores as `target`."""
    plain = [i for i in instrument.items if not i.strong and not i.commercial_sex]
    strong = [i for i in instrument.items if i.strong and not i.commercial_sex]
    yes: set[str] = set()
    if target == "indicators_present":
        domains = rng.sample(sorted({i.domain for i in plain}), rng.randint(1, 2))
        yes = {rng.choice([i for i in plain if i.domain == d]).id for d in domains}
    elif target == "strong_indicators":
        yes = {rng.choice(strong).id} if rng.random() < 0.6 else set()
        domains = rng.sample(sorted({i.domain for i in plain}), 3 if not yes else rng.randint(0, 2))
        yes |= {rng.choice([i for i in plain if i.domain == d]).id for d in domains}
    elif target == "confirmed":
        yes = {i.id for i in instrument.items if i.commercial_sex}
        yes |= {i.id for i in rng.sample(plain, rng.randint(0, 3))}
    indicators = tuple(
        Indicator(item=item.id, answer="yes" if item.id in yes else ("no", "no", "unknown")[
            rng.randrange(3)
        ])
        for item in instrument.items
    )  # fmt: skip
    given = score(instrument, {i.item: i.answer for i in indicators}, minor)
    if given != target:
        raise AssertionError(f"the demo's answers score {given}, not {target}")
    return indicators


def _screening_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _standalone(
    rng: random.Random, instrument: Instrument, org: Organisation, day: dt.date
) -> PlannedScreening:
    target = draw_weighted(rng, STANDALONE_RESULTS)
    setting = draw_weighted(rng, STANDALONE_SETTINGS)
    minor = "yes" if target == "confirmed" else draw_weighted(
        rng, {"yes": 12, "no": 70, "unknown": 18}
    )  # fmt: skip
    if setting in OUTREACH_SETTINGS:
        role, team, user = "outreach", org.teams[0], f"outreach-{org.id.removeprefix('org-')}"
    else:
        role, team = "caseworker", org.teams[0]
        user = rng.choice(org.workers[team])
    command = RecordScreening(
        screening_id=_screening_id(rng),
        organisation_id=org.id,
        screened_by=user,
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        screened_on=day,
        setting=setting,
        indicators=answers_for(rng, instrument, target, minor),
        minor=minor,
    )
    return PlannedScreening(role, team, command, target)


def _linked(
    rng: random.Random, instrument: Instrument, state: CaseState
) -> tuple[PlannedScreening, PlannedDetermination] | None:
    """A screening of the case on its intake day, and the determination naming it."""
    status, intake, case_id = state.victim_status, state.intake, state.case_id
    org, worker, team = state.organisation_id, state.worker_id, state.team_id
    if status is None or intake is None or None in (case_id, org, worker, team):
        return None
    assert case_id is not None and org is not None and worker is not None and team is not None
    age = state.age_on(intake.intake_on)
    minor = "unknown" if age is None else ("yes" if age < 18 else "no")
    trafficking = state.trafficking
    sex_act = trafficking is not None and trafficking.commercial_sex_act
    if status.status == "confirmed" and minor == "yes" and sex_act:
        target = "confirmed"
    elif status.status == "strong_indicators" and rng.random() < 0.15:
        target = "indicators_present"
    else:
        target = "strong_indicators"
    settings = INTAKE_SETTINGS.get(intake.intake_type, ("other",))
    if intake.intake_type == "referral" and minor == "yes":
        settings = ("school", "child_welfare", *settings)
    command = RecordScreening(
        screening_id=_screening_id(rng),
        organisation_id=org,
        screened_by=worker,
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        screened_on=intake.intake_on,
        setting=rng.choice(settings),
        indicators=answers_for(rng, instrument, target, minor),
        minor=minor,
        case_id=case_id,
    )
    determination = PlannedDetermination(
        Actor(worker, org, f"demo-screening-{command.screening_id}"),
        case_id,
        cmd.DetermineVictimStatus(
            victim_status=VictimStatus(
                status=status.status,
                determined_on=intake.intake_on,
                determined_by=worker,
                screening_ids=(command.screening_id,),
            )
        ),
        state.version,
    )
    return PlannedScreening("caseworker", team, command, target), determination


def plan_screenings(
    seed: int,
    plan: DemoPlan,
    organisations: Sequence[Organisation],
    instrument: Instrument,
    quarters: int,
) -> ScreeningPlan:
    """Standalone screenings in each of the `quarters` quarters up to the plan's `today`, and
    a linked screening for most of the plan's open cases."""
    rng = random.Random(f"demo-screenings-{seed}")
    standalone = []
    for org in organisations:
        for first, last in quarters_before(plan.today, quarters):
            for _ in range(rng.randint(*STANDALONE_PER_QUARTER)):
                standalone.append(_standalone(rng, instrument, org, day_in(rng, first, last)))
    linked, determinations = [], []
    for key in sorted(plan.streams):
        state = fold(enumerate(plan.streams[key], start=1))
        if state.is_closed or state.transferred_in or rng.random() >= LINKED_SHARE:
            continue
        found = _linked(rng, instrument, state)
        if found is not None:
            linked.append(found[0])
            determinations.append(found[1])
    standalone.sort(key=lambda s: (s.command.screened_on, s.command.screening_id))
    return ScreeningPlan(tuple(standalone), tuple(linked), tuple(determinations))

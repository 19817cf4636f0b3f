"""`haven demo`: synthetic, entirely fictitious cases, written through the real use cases.

Two halves, so that determinism can be tested without a database:

* `demo_plan(seed, cases, today)` is pure. From `random.Random(seed)` alone it plans every
  command of every case, and checks each one with the domain's own `decide` as it goes (a
  refusal is a bug of this generator, raised at once, never skipped). The plan therefore also
  knows every event, every stream's version after each step, and the summary.
* `seed_demo(use_cases, ...)` plays the plan through `CaseUseCases`, each command with the
  expected version the plan computed, so the database ends up with exactly the planned events
  (any drift raises `DemoDrift`).

Nothing resembles a real person: clients are "Client <Word> <number>", phone numbers are
555-01xx, e-mail addresses are at example.org, places are "Fictional locality n", and every
free-text note says it is synthetic. Dates are anchored on `today` (never the wall clock): intakes
spread over the two years before it, and nothing is dated after it. The use cases' clock must
be at or after `today`; `demo_use_cases` builds them with a fixed one.

Coverage: the first cases are a fixed showcase (every age band and trafficking type, each
referral status, every closure path, the immigration kinds); after that, choices are weighted
draws, and any service category or immigration kind not yet delivered is steered into the next
case that fits it. For large benchmarks, `services.demo_bulk` writes a plan without the use
cases' round trips, and `demo_plan(..., rich=True)` plans a longer case life with about 50
events per intake instead of about 28 (`services.demo_life`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import heapq
import itertools
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

import msgspec

from domain.case import commands as cmd
from domain.case.decide import Context, decide, receiving_case
from domain.case.events import CaseTransferred
from domain.case.lifecycles import OBTAINED_STEPS, REFERRAL_TRANSITIONS
from domain.case.state import CaseState, fold
from domain.case.values import (
    ContactChannel,
    Demographics,
    FamilyServed,
    Identity,
    Intake,
    SafeContact,
    TraffickingContext,
    VictimStatus,
)
from domain.codebook import CURRENT
from domain.event import DomainEvent
from events.store import PostgresEventStore
from services.cases import Actor, CaseUseCases

DEFAULT_ORGANISATIONS: tuple[str, ...] = ("org-harbor", "org-lantern", "org-meadow")
DEMO_TODAY = dt.date(2026, 9, 30)  # the end of federal fiscal year 2026
HISTORY_DAYS = 730  # intakes spread over the two years before `today`
TEAMS = ("intake", "adult-services", "youth-services", "legal-advocacy")
WORKERS_PER_TEAM = 3

REFERRAL_STATUSES: tuple[str, ...] = tuple(REFERRAL_TRANSITIONS)
AGE_BANDS: Mapping[str, tuple[int, int]] = MappingProxyType({
    "0-11": (4, 11), "12-17": (12, 17), "18-24": (18, 24), "25-34": (25, 34), "35-49": (35, 49),
    "50+": (50, 68)})
SERVICE_CATEGORIES: tuple[str, ...] = tuple(CURRENT.lists["service_category"])
IMMIGRATION_KINDS: tuple[str, ...] = tuple(CURRENT.lists["immigration_kind"])

# Obviously fictitious: nature words, never given names.
_WORDS = ("Acorn", "Basalt", "Cobalt", "Drift", "Ember", "Fjord", "Granite", "Heron", "Indigo", "Juniper",
          "Kelp", "Lichen", "Mesa", "Nimbus", "Obsidian", "Pebble", "Quartz", "Reef", "Slate", "Thistle",
          "Umber", "Vale", "Wren", "Yucca", "Zephyr")
_OBJECTS = ("lantern", "kettle", "compass", "teacup", "ladder", "anchor", "feather", "marble")
_SAFE_TIMES = ("weekday mornings", "after work hours", "weekends only", "any time", "lunchtime")

# External partners: fictitious organisations, with the purpose and the data a referral needs.
_PARTNERS: Mapping[str, tuple[str, str, tuple[str, ...]]] = MappingProxyType({
    "legal_immigration": ("partner-immigration-law", "immigration_relief",
                          ("identity", "contact", "immigration", "trafficking")),
    "legal_criminal_civil": ("partner-legal-aid", "legal_representation",
                             ("identity", "contact", "legal", "trafficking")),
    "medical": ("partner-community-clinic", "care_coordination", ("identity", "contact", "health", "needs")),
    "dental": ("partner-community-clinic", "care_coordination", ("identity", "contact", "health")),
    "substance_use": ("partner-community-clinic", "care_coordination", ("identity", "contact", "health", "needs")),
    "mental_health": ("partner-counseling-collective", "care_coordination", ("identity", "contact", "health", "needs")),
    "housing_shelter": ("partner-shelter-network", "service_referral",
                        ("identity", "contact", "needs", "demographics")),
    "basic_necessities": ("partner-shelter-network", "service_referral", ("contact", "needs")),
    "financial_assistance": ("partner-family-resource-center", "service_referral", ("identity", "contact", "needs")),
    "childcare": ("partner-family-resource-center", "service_referral", ("contact", "needs", "demographics")),
    "transportation": ("partner-family-resource-center", "service_referral", ("contact", "needs")),
    "employment": ("partner-workforce-hub", "service_referral", ("identity", "contact", "needs")),
    "education": ("partner-workforce-hub", "service_referral", ("identity", "contact", "needs")),
    "life_skills": ("partner-workforce-hub", "service_referral", ("contact", "needs")),
    "interpretation_translation": ("partner-language-bridge", "service_referral", ("contact", "demographics")),
    "repatriation": ("partner-safe-return", "service_referral", ("identity", "contact", "immigration")),
    "family_reunification": ("partner-safe-return", "service_referral", ("identity", "contact", "needs")),
    "crisis_intervention": ("partner-regional-coalition", "care_coordination", ("contact", "needs", "trafficking")),
    "case_management": ("partner-regional-coalition", "care_coordination",
                        ("identity", "contact", "needs", "services")),
})

# The first cases: a fixed showcase so that even a small demo covers every path.
_SHOWCASE: tuple[Mapping[str, Any], ...] = (
    {"band": "25-34", "type": "labor", "citizenship": "foreign_national", "archetype": "open", "min_age_days": 650,
     "referrals": REFERRAL_STATUSES, "revocations": False,
     "immigration": ("t_visa", "t_visa_derivative", "law_enforcement_declaration", "continued_presence",
                     "hhs_certification"), "family": FamilyServed(spouse=1, children_under_18=1)},
    {"band": "12-17", "type": "sex", "citizenship": "foreign_national", "archetype": "closed", "min_span": 240,
     "immigration": ("hhs_eligibility", "u_visa"), "statistics": False},
    {"band": "0-11", "type": "both", "citizenship": "us_citizen", "archetype": "reopened", "revoke": "oral"},
    {"band": "18-24", "type": "unknown", "status": "strong_indicators", "archetype": "transferred",
     "release": ("demographics", "needs", "services", "trafficking")},
    {"band": "35-49", "type": "labor", "status": "strong_indicators", "archetype": "closed", "revoke": "written"},
    {"band": "50+", "type": "sex", "status": "confirmed", "archetype": "open", "statistics": True},
    {"band": "25-34", "type": "both", "citizenship": "lawful_permanent_resident", "archetype": "transferred",
     "release": ("identity", "contact", "demographics", "trafficking", "needs", "services", "outcomes")},
)


class DemoDrift(RuntimeError):
    """The database did not end up where the plan said (a stream was written by someone else)."""


class DemoSummary(NamedTuple):
    cases: int  # case streams written: one per intake, plus one per received transfer
    events: int
    organisations: tuple[str, ...]
    per_organisation: Mapping[str, int]  # case streams per organisation
    closed: int  # case streams closed now (transferred-out cases included)
    reopened: int  # case streams reopened at least once
    transferred: int  # transfers between the demo organisations
    referral_statuses: Mapping[str, int]  # current status of every referral, every status listed

    def lines(self) -> list[str]:
        orgs = ", ".join(f"{org} {n}" for org, n in self.per_organisation.items())
        statuses = ", ".join(f"{status} {n}" for status, n in self.referral_statuses.items())
        return [f"cases: {self.cases} ({orgs})", f"events: {self.events}",
                f"closed: {self.closed}, reopened: {self.reopened}, transferred: {self.transferred}",
                f"referrals: {statuses}"]


class Step(NamedTuple):
    use_case: str  # the `CaseUseCases` method
    actor: Actor
    case_id: str
    command: cmd.Command
    expected_version: int  # the case's version before the step
    version: int  # ... and after it


StreamKey = tuple[str, str]  # (organisation id, case id)


class DemoPlan(NamedTuple):
    seed: int
    today: dt.date
    organisations: tuple[str, ...]
    scripts: tuple[tuple[Step, ...], ...]  # one per intake; a script's steps run in order
    streams: Mapping[StreamKey, tuple[DomainEvent, ...]]
    summary: DemoSummary


# -- public helpers ----------------------------------------------------------------------

def demo_now(today: dt.date) -> dt.datetime:
    """The moment the plan is decided at: noon UTC on `today`."""
    return dt.datetime.combine(today, dt.time(12), tzinfo=dt.timezone.utc)


def demo_use_cases(store: PostgresEventStore, today: dt.date = DEMO_TODAY) -> CaseUseCases:
    """Use cases whose clock stands still at `today`, so that no demo date is in the future."""
    moment = demo_now(today)
    return CaseUseCases(store, clock=lambda: moment)


def events_digest(streams: Mapping[StreamKey, Sequence[DomainEvent]]) -> str:
    """A digest of every (organisation, case id, version, event), independent of write order."""
    encoder = msgspec.msgpack.Encoder()
    digest = hashlib.sha256()
    for key in sorted(streams):
        for version, event in enumerate(streams[key], start=1):
            digest.update(encoder.encode((key[0], key[1], version, event)))
    return digest.hexdigest()


def summarise(streams: Mapping[StreamKey, Sequence[DomainEvent]], organisations: Sequence[str]) -> DemoSummary:
    states = [fold(enumerate(events, start=1)) for events in streams.values()]
    per_org = Counter(state.organisation_id for state in states)
    statuses = Counter(r.status for state in states for r in state.referrals.values())
    return DemoSummary(
        cases=len(states), events=sum(len(events) for events in streams.values()),
        organisations=tuple(organisations),
        per_organisation={org: per_org[org] for org in organisations},
        closed=sum(state.is_closed for state in states), reopened=sum(state.enrolments > 1 for state in states),
        transferred=sum(state.transfer is not None for state in states),
        referral_statuses={s: statuses[s] for s in REFERRAL_STATUSES})


# -- seeding -----------------------------------------------------------------------------

async def seed_demo(use_cases: CaseUseCases, *, cases: int, seed: int = 7,
                    organisations: Sequence[str] = DEFAULT_ORGANISATIONS, today: dt.date = DEMO_TODAY,
                    concurrency: int = 16, rich: bool = False) -> DemoSummary:
    """Plan `cases` synthetic intakes (`rich`: see `demo_plan`) and write them through the use cases.

    `use_cases` must run on a clock at or after `today` (see `demo_use_cases`). Cases are
    written `concurrency` at a time; each case's commands in order.
    """
    plan = demo_plan(seed=seed, cases=cases, today=today, organisations=organisations, rich=rich)
    await execute_plan(use_cases, plan, concurrency=concurrency)
    return plan.summary


async def execute_plan(use_cases: CaseUseCases, plan: DemoPlan, *, concurrency: int = 16) -> None:
    scripts = iter(plan.scripts)

    async def worker() -> None:
        for script in scripts:  # shared: each script is taken by exactly one worker
            for step in script:
                version = await _run(use_cases, step)
                if version != step.version:
                    raise DemoDrift(f"case {step.case_id} is at version {version}, the plan says {step.version}")

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, concurrency)):
                group.create_task(worker())
    except BaseExceptionGroup as failed:  # the first failure, as itself
        while isinstance(failed, BaseExceptionGroup):
            failed = failed.exceptions[0]
        raise failed from None


async def _run(use_cases: CaseUseCases, step: Step) -> int:
    if step.use_case == "open_case":
        return await use_cases.open_case(step.actor, step.command)  # type: ignore[arg-type]
    method = getattr(use_cases, step.use_case)
    return await method(step.actor, step.case_id, step.command, expected_version=step.expected_version)


# -- planning ----------------------------------------------------------------------------

class _Organisation(NamedTuple):
    id: str
    teams: tuple[str, ...]
    workers: Mapping[str, tuple[str, ...]]  # team -> workers
    supervisor: str


def _directory(organisation_ids: Sequence[str]) -> tuple[_Organisation, ...]:
    orgs = []
    for org_id in organisation_ids:
        slug = org_id.removeprefix("org-")
        teams = tuple(f"team-{slug}-{name}" for name in TEAMS)
        workers = {team: tuple(f"worker-{slug}-{name}-{k}" for k in range(1, WORKERS_PER_TEAM + 1))
                   for team, name in zip(teams, TEAMS)}
        orgs.append(_Organisation(org_id, teams, MappingProxyType(workers), f"supervisor-{slug}"))
    return tuple(orgs)


def demo_accounts(organisation_id: str = DEFAULT_ORGANISATIONS[0]) -> list[tuple[str, str, str | None]]:
    """(role, user id, team) of one synthetic person per role in a demo organisation, the
    people `haven serve --demo` prints tokens for."""
    (org,) = _directory([organisation_id])
    team = org.teams[0]
    slug = organisation_id.removeprefix("org-")
    return [
        ("caseworker", org.workers[team][0], team),
        ("supervisor", org.supervisor, team),
        ("privacy_officer", f"privacy-{slug}", None),
        ("reporter", f"reporter-{slug}", None),
        ("admin", f"admin-{slug}", None),
    ]


def demo_plan(seed: int = 7, cases: int = 100, today: dt.date = DEMO_TODAY,
              organisations: Sequence[str] = DEFAULT_ORGANISATIONS, *, rich: bool = False) -> DemoPlan:
    """Every command of `cases` synthetic intakes, checked by the domain; pure and deterministic.

    `rich` plans the longer case life of `services.demo_life` (about 50 events per intake
    instead of about 28): for benchmarks that need many events per client."""
    if cases < 0:
        raise ValueError("cases must be >= 0")
    if len(set(organisations)) != len(organisations) or not organisations:
        raise ValueError("name at least one organisation, each once")
    planner_type = _Planner
    if rich:
        from services.demo_life import RichPlanner  # it builds on this module's planner

        planner_type = RichPlanner
    planner = planner_type(random.Random(seed), today, _directory(organisations))
    scripts = tuple(planner.plan_case(index) for index in range(cases))
    streams = MappingProxyType({key: tuple(stream.events) for key, stream in planner.streams.items()})
    return DemoPlan(seed, today, tuple(organisations), scripts, streams, summarise(streams, organisations))


class _Stream:
    __slots__ = ("organisation", "case_id", "index", "state", "events", "counters", "profile")

    def __init__(self, organisation: _Organisation, case_id: str, index: int, profile: _Profile) -> None:
        self.organisation = organisation
        self.case_id = case_id
        self.index = index
        self.state = CaseState()
        self.events: list[DomainEvent] = []
        self.counters: Counter[str] = Counter()
        self.profile = profile

    def next_id(self, prefix: str) -> str:
        self.counters[prefix] += 1
        return f"{prefix}-{self.counters[prefix]}"


class _Profile(NamedTuple):
    minor: bool
    foreign: bool
    interpreter: bool
    children: bool
    trafficking_type: str
    forced_service: str | None
    immigration: tuple[str, ...]
    referrals: tuple[str, ...]  # target statuses
    alternate_kinds: bool  # internal, external, internal, ... (the showcase)
    revocations: bool
    extra_revoke: str | None
    statistics: bool


def _weighted(rng: random.Random, weights: Mapping[str, float]) -> str:
    return rng.choices(tuple(weights), tuple(weights.values()))[0]


def _some(rng: random.Random, pool: Sequence[str], low: int, high: int) -> tuple[str, ...]:
    return tuple(sorted(rng.sample(list(pool), min(len(pool), rng.randint(low, high)))))


def _days(day: dt.date, low: int, high: int, rng: random.Random) -> dt.date:
    return day + dt.timedelta(days=rng.randint(low, high))


class _Planner:
    def __init__(self, rng: random.Random, today: dt.date, orgs: tuple[_Organisation, ...]) -> None:
        self.rng = rng
        self.today = today
        self.now = demo_now(today)
        self.orgs = orgs
        self.streams: dict[StreamKey, _Stream] = {}
        self.steps: list[Step] = []
        self.agenda: list[tuple[dt.date, int, _Stream, int, bool, Callable[..., None], tuple[Any, ...]]] = []
        self.sequence = itertools.count()
        self.uncovered_services = list(SERVICE_CATEGORIES)
        self.uncovered_kinds = list(IMMIGRATION_KINDS)

    # -- the machinery ----------------------------------------------------------------

    def do(self, stream: _Stream, use_case: str, actor: Actor, command: cmd.Command) -> None:
        """Decide the command exactly as the use case will, and record the step."""
        before = stream.state
        try:
            events = decide(before, command, Context(now=self.now, actor_id=actor.user_id))
        except Exception as error:
            error.add_note(f"demo generator bug: case #{stream.index} {use_case} {command!r}")
            raise
        stream.state = fold(((before.version + k, e) for k, e in enumerate(events, start=1)), before)
        stream.events.extend(events)
        self.steps.append(Step(use_case, actor, stream.case_id, command, before.version, stream.state.version))
        if isinstance(command, cmd.RecordService) and command.category in self.uncovered_services:
            self.uncovered_services.remove(command.category)
        if isinstance(command, cmd.RecordImmigrationStep) and command.kind in self.uncovered_kinds:
            self.uncovered_kinds.remove(command.kind)
        if isinstance(command, cmd.TransferCase):
            transferred = next(e for e in events if isinstance(e, CaseTransferred))
            opened = receiving_case(before, transferred, command)
            org = next(o for o in self.orgs if o.id == command.recipient_organisation)
            received = _Stream(org, command.receiving_case_id, stream.index, stream.profile)
            received.state = fold([(1, opened)])
            received.events.append(opened)
            self.streams[(org.id, received.case_id)] = received
            self._start_received(received, command.transferred_on)

    def at(self, day: dt.date, stream: _Stream, action: Callable[..., None], *args: Any,
           when_closed: bool = False) -> None:
        """Plan `action(stream, day, *args)` for the stream's current enrolment."""
        item = (day, next(self.sequence), stream, stream.state.enrolments, when_closed, action, args)
        heapq.heappush(self.agenda, item)

    def run_agenda(self) -> None:
        while self.agenda:
            day, _, stream, enrolment, when_closed, action, args = heapq.heappop(self.agenda)
            if day > self.today:
                self.agenda.clear()  # a heap: everything left is later still
                return
            state = stream.state
            if state.enrolments == enrolment and state.is_closed == when_closed:
                action(stream, day, *args)

    def actor(self, stream: _Stream) -> Actor:
        return Actor(stream.state.worker_id or "", stream.organisation.id, f"demo-{stream.index}")

    def supervisor(self, stream: _Stream) -> Actor:
        return Actor(stream.organisation.supervisor, stream.organisation.id, f"demo-{stream.index}")

    # -- one case -----------------------------------------------------------------------

    def plan_case(self, index: int) -> tuple[Step, ...]:
        rng = self.rng
        show = _SHOWCASE[index] if index < len(_SHOWCASE) else {}
        case_id = str(uuid.UUID(int=rng.getrandbits(128)))
        org = self.orgs[index % len(self.orgs)] if show else rng.choices(
            self.orgs, [len(self.orgs) + 2 - k for k in range(len(self.orgs))])[0]

        band = show.get("band") or _weighted(rng, {"0-11": 4, "12-17": 16, "18-24": 24, "25-34": 28,
                                                   "35-49": 19, "50+": 9})
        age = rng.randint(*AGE_BANDS[band])
        minor = age < 18
        kind = show.get("type") or _weighted(
            rng, {"sex": 55, "labor": 15, "both": 15, "unknown": 15} if minor
            else {"sex": 35, "labor": 38, "both": 14, "unknown": 13})
        citizenship = show.get("citizenship") or _weighted(rng, {
            "sex": {"us_citizen": 60, "lawful_permanent_resident": 10, "foreign_national": 30},
            "labor": {"us_citizen": 25, "lawful_permanent_resident": 10, "foreign_national": 65},
            "both": {"us_citizen": 40, "lawful_permanent_resident": 15, "foreign_national": 45},
            "unknown": {"us_citizen": 50, "lawful_permanent_resident": 15, "foreign_national": 35}}[kind])
        foreign = citizenship == "foreign_national"
        archetype = show.get("archetype") or _weighted(
            rng, {"open": 46, "closed": 38, "reopened": 11, "transferred": 3 if len(self.orgs) > 1 else 0})
        if archetype == "transferred" and len(self.orgs) < 2:
            archetype = "closed"

        # Dates: the intake, and when the case closes, reopens or moves (all on or before today).
        close_on = reopen_on = transfer_on = None
        if archetype == "open":
            intake_on = self.today - dt.timedelta(days=rng.randint(show.get("min_age_days", 0), HISTORY_DAYS))
        elif archetype == "closed":
            ago = rng.randint(max(60, show.get("min_span", 0) + 10), HISTORY_DAYS)
            intake_on = self.today - dt.timedelta(days=ago)
            close_on = intake_on + dt.timedelta(days=rng.randint(max(45, show.get("min_span", 0)), min(540, ago)))
        elif archetype == "reopened":
            ago = rng.randint(160, HISTORY_DAYS)
            intake_on = self.today - dt.timedelta(days=ago)
            span = rng.randint(45, min(400, ago - 60))
            close_on = intake_on + dt.timedelta(days=span)
            reopen_on = close_on + dt.timedelta(days=rng.randint(14, min(240, ago - span)))
        else:
            ago = rng.randint(60, HISTORY_DAYS)
            intake_on = self.today - dt.timedelta(days=ago)
            transfer_on = intake_on + dt.timedelta(days=rng.randint(30, min(300, ago)))

        interpreter_language = foreign and rng.random() < 0.75
        family = show.get("family") or _family(rng, age)
        forced_service = next((c for c in self.uncovered_services
                               if _fits(c, foreign, interpreter_language, family.children_under_18 > 0)), None)
        immigration = tuple(show.get("immigration", ()))
        if foreign and not show:
            immigration = _immigration_kinds(rng, minor, family)
            missing = next((k for k in self.uncovered_kinds if k not in immigration
                            and k != ("hhs_certification" if minor else "hhs_eligibility")), None)
            if missing is not None:
                immigration = (*immigration, missing)
        referrals = tuple(show.get("referrals") or (_weighted(rng, {
            "completed": 30, "in_progress": 10, "accepted": 8, "declined": 12, "revoked": 8, "expired": 10,
            "sent": 8, "proposed": 6}) for _ in range(rng.choices((0, 1, 2, 3, 4), (15, 30, 30, 15, 10))[0])))
        profile = _Profile(
            minor=minor, foreign=foreign, interpreter=interpreter_language,
            children=family.children_under_18 > 0, trafficking_type=kind, forced_service=forced_service,
            immigration=immigration, referrals=referrals, alternate_kinds="referrals" in show,
            revocations=show.get("revocations", True), extra_revoke=show.get("revoke"),
            statistics=show.get("statistics", rng.random() < 0.75))

        stream = _Stream(org, case_id, index, profile)
        self.streams[(org.id, case_id)] = stream
        first = len(self.steps)
        self._open(stream, intake_on, age, citizenship, interpreter_language, family, show)
        self._start_enrolment(stream, intake_on, first=True)
        if close_on is not None:
            self.at(close_on, stream, self._close, reopen_on)
        if transfer_on is not None:
            self._plan_transfer(stream, transfer_on, show.get("release"))
        self.run_agenda()
        return tuple(self.steps[first:])

    def _open(self, stream: _Stream, intake_on: dt.date, age: int, citizenship: str, interpreter: bool,
              family: FamilyServed, show: Mapping[str, Any]) -> None:
        rng, n = self.rng, stream.index + 1
        org = stream.organisation
        youth_team, adult_teams = org.teams[2], (org.teams[0], org.teams[1], org.teams[3])
        team = youth_team if age < 18 and rng.random() < 0.85 else rng.choice(adult_teams)
        worker = rng.choice(org.workers[team])
        word = _WORDS[stream.index % len(_WORDS)]

        intake_type = _weighted(rng, {"referral": 35, "hotline": 15, "law_enforcement": 20, "walk_in": 12,
                                      "outreach": 18})
        referral_source: str | None = {
            "referral": rng.choice(("ngo", "health_care", "faith_based", "family_friend", "other",
                                    *(("school", "child_welfare") if age < 18 else ()))),
            "hotline": "hotline", "law_enforcement": "law_enforcement",
            "walk_in": rng.choice(("self", "family_friend")), "outreach": None}[intake_type]
        referral_on = intake_on - dt.timedelta(days=rng.choice((0, 0, 1, 2, 3, 5, 9))) \
            if intake_type in ("referral", "hotline", "law_enforcement") else None
        birth = _birth_date(rng, intake_on, age) if rng.random() < 0.75 else None
        intake = Intake(
            intake_on=intake_on, intake_type=intake_type, referral_on=referral_on, referral_source=referral_source,
            matched_within_48h=None if referral_on is None else (intake_on - referral_on).days <= 2,
            eligibility_status=_weighted(rng, {"eligible": 82, "pending": 14, "ineligible": 4}),
            age_at_intake=None if birth is not None else age, family_served=family)
        identity = Identity(
            preferred_name=f"Client {word} {n:04d}",
            legal_name=f"DEMO {word.upper()} {n:04d}" if rng.random() < 0.5 else None,
            aliases=(f"{word}-{n}",) if rng.random() < 0.3 else (), date_of_birth=birth)
        demographics = Demographics(
            gender_identity=_weighted(rng, {"woman": 52, "man": 30, "transgender_woman": 4, "transgender_man": 2,
                                            "non_binary": 3, "another": 1, "not_reported": 8}),
            lgbtq=_weighted(rng, {"yes": 12, "no": 63, "unknown": 25}),
            race_ethnicity=_race(rng),
            disabilities=_some(rng, CURRENT.lists["disability"], 0, 2) if rng.random() < 0.25 else (),
            citizenship=citizenship,
            preferred_language=rng.choice(("es", "zh", "vi", "tl", "ht", "fr", "ru", "ko", "th", "pt", "uk", "sw"))
            if interpreter else rng.choice(("en", "en", "en", "es")),
            interpreter_needed=interpreter)
        status = show.get("status") or _weighted(rng, {"confirmed": 60, "strong_indicators": 40})
        command = cmd.OpenCase(
            case_id=stream.case_id, organisation_id=org.id, intake=intake,
            victim_status=VictimStatus(status=status, determined_on=intake_on, determined_by=worker),
            identity=identity, contact=_contact(rng, n, word), demographics=demographics,
            trafficking=_trafficking(rng, stream.profile.trafficking_type, minor=age < 18,
                                     foreign=stream.profile.foreign),
            worker_id=worker, team_id=team)
        self.do(stream, "open_case", Actor(worker, org.id, f"demo-{stream.index}"), command)

    def _start_enrolment(self, stream: _Stream, day: dt.date, *, first: bool) -> None:
        rng, profile = self.rng, stream.profile
        if first:
            self.at(day if rng.random() < 0.85 else _days(day, 1, 30, rng), stream, self._statistics,
                    profile.statistics)
            if rng.random() < 0.1:
                self.at(_days(day, 60, 400, rng), stream, self._statistics, not profile.statistics)
        needs_on = _days(day, 0, 7, rng)
        self.at(needs_on, stream, self._assess_needs, profile.forced_service if first else None)
        self.at(_days(needs_on, 0, 14, rng), stream, self._set_goals)
        for reassessment in range(rng.choice((0, 0, 1, 2))):
            self.at(_days(needs_on, 120 * (reassessment + 1), 120 * (reassessment + 1) + 90, rng), stream,
                    self._assess_needs, None)
        self.at(_days(day, 0, 3, rng), stream, self._service, None,
                rng.randint(3, 10) if first else rng.randint(1, 4), profile.forced_service if first else None)
        self.at(_days(day, 3, 21, rng), stream, self._assess_outcome, _outcome_domains(rng), None,
                rng.randint(2, 8) if first else rng.randint(1, 3))
        targets = profile.referrals if first else tuple(
            _weighted(rng, {"completed": 3, "declined": 1, "expired": 1}) for _ in range(rng.randint(0, 2)))
        for k, target in enumerate(targets):
            kind = ("internal", "external")[k % 2] if profile.alternate_kinds else (
                "external" if rng.random() < 0.55 else "internal")
            self.at(_days(day, 3, 240 if first else 90, rng), stream, self._propose, target, kind)
        if first:
            for k, kind in enumerate(profile.immigration):
                self.at(_days(day, 7 + 20 * k, 60 + 20 * k, rng), stream, self._immigration, kind, None, 0)
            if stream.state.victim_status and stream.state.victim_status.status == "strong_indicators" \
                    and rng.random() < 0.45:
                self.at(_days(day, 14, 240, rng), stream, self._confirm_status)
            if profile.trafficking_type == "unknown" and rng.random() < 0.6 or rng.random() < 0.2:
                self.at(_days(day, 10, 120, rng), stream, self._update_trafficking)
            if rng.random() < 0.3 or profile.extra_revoke:
                self.at(_days(day, 5, 90, rng), stream, self._grant_spare_consent, profile.extra_revoke)
        if rng.random() < 0.18:
            self.at(_days(day, 20, 300, rng), stream, self._reassign)

    # -- actions (each runs on its day, on the state of that day) -------------------------

    def _statistics(self, stream: _Stream, day: dt.date, agrees: bool) -> None:
        self.do(stream, "record_consent", self.actor(stream),
                cmd.RecordStatisticsConsent(agrees=agrees, recorded_on=day))

    def _assess_needs(self, stream: _Stream, day: dt.date, forced: str | None) -> None:
        rng, profile = self.rng, stream.profile
        pool = ["case_management", "crisis_intervention", "basic_necessities", "housing_shelter", "medical",
                "mental_health", "transportation", "financial_assistance", "legal_criminal_civil", "life_skills",
                "dental", "substance_use", "employment" if not profile.minor else "education"]
        if profile.foreign:
            pool += ["legal_immigration", "legal_immigration", "repatriation", "family_reunification"]
        if profile.interpreter:
            pool.append("interpretation_translation")
        if profile.children:
            pool.append("childcare")
        if profile.minor:
            pool += ["education", "family_reunification"]
        needs = set(rng.sample(pool, rng.randint(2, 5)))
        if forced:
            needs.add(forced)
        notes = "Synthetic needs note." if rng.random() < 0.3 else None
        self.do(stream, "assess_needs", self.actor(stream), cmd.AssessNeeds(
            assessment_id=stream.next_id("needs"), assessed_on=day, needs=tuple(sorted(needs)), notes=notes))

    def _current_needs(self, stream: _Stream) -> tuple[str, ...]:
        return stream.state.needs[-1].needs if stream.state.needs else ("case_management",)

    def _set_goals(self, stream: _Stream, day: dt.date) -> None:
        rng = self.rng
        for category in rng.sample(list(self._current_needs(stream)), min(3, rng.randint(1, 3),
                                                                           len(self._current_needs(stream)))):
            goal_id = stream.next_id("goal")
            label = CURRENT.label("service_category", category).lower()
            self.do(stream, "plan_goal", self.actor(stream), cmd.SetGoal(
                goal_id=goal_id, category=category, description=f"Synthetic goal about {label}.", set_on=day,
                target_on=_days(day, 60, 240, rng)))
            self.at(_days(day, 7, 40, rng), stream, self._goal_status, goal_id, "in_progress")

    def _goal_status(self, stream: _Stream, day: dt.date, goal_id: str, status: str) -> None:
        goal = stream.state.goals[goal_id]
        if goal.status in ("achieved", "discontinued") or goal.status == status:
            return
        self.do(stream, "plan_goal", self.actor(stream), cmd.ChangeGoalStatus(goal_id=goal_id, status=status,
                                                                                changed_on=day))
        if status == "in_progress":
            end = _weighted(self.rng, {"achieved": 55, "discontinued": 15, "": 30})
            if end:
                self.at(_days(day, 30, 200, self.rng), stream, self._goal_status, goal_id, end)

    def _service(self, stream: _Stream, day: dt.date, referral_id: str | None, remaining: int,
                 category: str | None) -> None:
        rng = self.rng
        provider = "internal"
        if referral_id is not None:
            referral = stream.state.referrals[referral_id]
            if referral.status not in ("accepted", "in_progress", "completed"):
                return
            category = referral.proposed.category
            if referral.proposed.kind == "external":
                provider = referral.proposed.recipient
        elif category is None:
            category = rng.choice(("case_management", "crisis_intervention", "basic_necessities")) \
                if not stream.state.services else rng.choice(self._current_needs(stream))
        self.do(stream, "record_service", self.actor(stream), cmd.RecordService(
            service_id=stream.next_id("service"), category=category, delivered_on=day,
            units=rng.choice((1, 1, 1, 2, 3, 5)), minutes=rng.choice((None, 15, 30, 45, 60, 90, 120, 240)),
            provider=provider, referral_id=referral_id,
            notes="Synthetic service note." if rng.random() < 0.2 else None))
        if remaining > 1:
            self.at(_days(day, 5, 45, rng), stream, self._service, referral_id, remaining - 1, None)

    def _assess_outcome(self, stream: _Stream, day: dt.date, domains: tuple[str, ...],
                        previous: Mapping[str, int] | None, remaining: int) -> None:
        rng = self.rng
        if previous is None:
            scores = {d: rng.randint(1, 3) for d in domains}
        else:  # mostly better over time, sometimes a setback
            scores = {d: min(5, max(1, s + rng.choice((-1, 0, 0, 1, 1, 1)))) for d, s in previous.items()}
        self.do(stream, "assess_outcome", self.actor(stream), cmd.AssessOutcome(
            assessment_id=stream.next_id("outcome"), assessed_on=day, scores=scores))
        if remaining > 1:
            self.at(_days(day, 60, 120, rng), stream, self._assess_outcome, domains, scores, remaining - 1)

    def _confirm_status(self, stream: _Stream, day: dt.date) -> None:
        by = self.rng.choice((stream.state.worker_id or "", "law-enforcement-liaison", "hhs-otip"))
        self.do(stream, "determine_victim_status", self.actor(stream), cmd.DetermineVictimStatus(
            victim_status=VictimStatus(status="confirmed", determined_on=day, determined_by=by)))

    def _update_trafficking(self, stream: _Stream, day: dt.date) -> None:
        rng, current = self.rng, stream.state.trafficking
        kind = current.trafficking_type if current else stream.profile.trafficking_type
        if kind == "unknown":
            kind = _weighted(rng, {"sex": 40, "labor": 45, "both": 15})
        updated = _trafficking(rng, kind, minor=stream.profile.minor, foreign=stream.profile.foreign)
        if current is not None:
            updated = msgspec.structs.replace(
                updated, recruitment_location=current.recruitment_location,
                exploitation_location=current.exploitation_location,
                control_methods=tuple(sorted(set(current.control_methods) | set(updated.control_methods))))
        self.do(stream, "update_trafficking_context", self.actor(stream),
                cmd.UpdateTraffickingContext(trafficking=updated))

    def _reassign(self, stream: _Stream, day: dt.date) -> None:
        org, state = stream.organisation, stream.state
        team = state.team_id if self.rng.random() < 0.6 else self.rng.choice(org.teams)
        workers = [w for w in org.workers[team] if w != state.worker_id]
        self.do(stream, "assign", self.supervisor(stream), cmd.AssignCase(
            worker_id=self.rng.choice(workers), team_id=team, assigned_on=day))

    # consent and referrals

    def _grant(self, stream: _Stream, day: dt.date, recipient: str, purpose: str, categories: Iterable[str],
               days: int, *, revocable: bool = True) -> str:
        rng = self.rng
        consent_id = stream.next_id("consent")
        age = stream.state.age_on(day)
        self.do(stream, "record_consent", self.actor(stream), cmd.GrantConsent(
            consent_id=consent_id, recipient_organisation=recipient, purpose=purpose,
            data_categories=tuple(sorted(set(categories))), starts_on=day, expires_on=day + dt.timedelta(days=days),
            signed_on=day, signed_by="guardian" if age is not None and age < 18 else "client",
            revocation_explained=True, written=True))
        if revocable and stream.profile.revocations and rng.random() < 0.12:
            self.at(_days(day, 7, 150, rng), stream, self._revoke, consent_id,
                    "oral" if rng.random() < 0.5 else "written")
        return consent_id

    def _revoke(self, stream: _Stream, day: dt.date, consent_id: str, method: str) -> None:
        consent = stream.state.consents[consent_id]
        if consent.revoked is not None:
            return
        self.do(stream, "record_consent", self.actor(stream),
                cmd.RevokeConsent(consent_id=consent_id, revoked_on=day, method=method))

    def _grant_spare_consent(self, stream: _Stream, day: dt.date, revoke: str | None) -> None:
        """A release for coordination or representation that no referral uses (yet)."""
        rng = self.rng
        category = rng.choice(("mental_health", "legal_criminal_civil", "medical", "case_management"))
        recipient, purpose, pool = _PARTNERS[category]
        consent_id = self._grant(stream, day, recipient, purpose, _some(rng, pool, 1, len(pool)),
                                 rng.randint(60, 366), revocable=revoke is None)
        if revoke:
            self.at(_days(day, 10, 40, rng), stream, self._revoke, consent_id, revoke)

    def _propose(self, stream: _Stream, day: dt.date, target: str, kind: str) -> None:
        rng, state = self.rng, stream.state
        category = rng.choice(self._current_needs(stream))
        referral_id = stream.next_id("referral")
        notes = "Synthetic referral note." if rng.random() < 0.3 else None
        if kind == "internal":
            recipient = rng.choice([t for t in stream.organisation.teams if t != state.team_id])
            command = cmd.ProposeReferral(
                referral_id=referral_id, kind="internal", category=category, recipient=recipient,
                purpose=rng.choice(("service_referral", "care_coordination")), proposed_on=day, notes=notes)
        else:
            recipient, purpose, pool = _PARTNERS[category]
            if rng.random() < 0.1:  # now and then, a sister organisation of the demo
                recipient = rng.choice([o.id for o in self.orgs if o.id != stream.organisation.id] or [recipient])
            released = _some(rng, pool, 1, len(pool))
            consent_id = self._usable_consent(state, recipient, purpose, released, day, day + dt.timedelta(days=14))
            if consent_id is None:
                consent_id = self._grant(stream, day, recipient, purpose, released + _some(rng, pool, 0, 1),
                                         rng.randint(90, 366))
            command = cmd.ProposeReferral(
                referral_id=referral_id, kind="external", category=category, recipient=recipient, purpose=purpose,
                proposed_on=day, consent_id=consent_id, released_categories=released, notes=notes)
        self.do(stream, "refer", self.actor(stream), command)
        path = _referral_path(rng, target)
        if path:
            self.at(day + dt.timedelta(days=_gap(rng, path[0][0])), stream, self._advance, referral_id, path, 0)

    @staticmethod
    def _usable_consent(state: CaseState, recipient: str, purpose: str, categories: Iterable[str],
                        first: dt.date, last: dt.date) -> str | None:
        for consent_id, consent in sorted(state.consents.items()):
            granted = consent.granted
            if (granted.recipient_organisation, granted.purpose) == (recipient, purpose) \
                    and set(categories) <= set(granted.data_categories) \
                    and consent.active_on(first) and consent.active_on(last):
                return consent_id
        return None

    def _advance(self, stream: _Stream, day: dt.date, referral_id: str, path: list[tuple[str, str | None]],
                 k: int) -> None:
        referral = stream.state.referrals[referral_id]
        status, reason = path[k]
        if not referral.is_open or status not in REFERRAL_TRANSITIONS[referral.status]:
            return  # ended meanwhile (a revoked consent ends the referrals that rely on it)
        p = referral.proposed
        if status == "sent" and p.kind == "external" and not stream.state.consents[p.consent_id].active_on(day):
            status, reason, path = "expired", None, [("expired", None)]  # the release lapsed before sending
        self.do(stream, "update_referral", self.actor(stream), cmd.UpdateReferral(
            referral_id=referral_id, status=status, changed_on=day, reason=reason))
        if status == "accepted" and self.rng.random() < 0.7:
            self.at(_days(day, 1, 20, self.rng), stream, self._service, referral_id, self.rng.randint(1, 3), None)
        if k + 1 < len(path):
            self.at(day + dt.timedelta(days=_gap(self.rng, path[k + 1][0])), stream, self._advance, referral_id,
                    path, k + 1)

    def _resolve_referrals(self, stream: _Stream, day: dt.date) -> None:
        """Before a closure or transfer: no referral may stay open."""
        rng = self.rng
        for referral_id, referral in sorted(stream.state.referrals.items()):
            if not referral.is_open:
                continue
            status, reason = {
                "proposed": rng.choice((("expired", None), ("revoked", "client_request"))),
                "sent": ("expired", None),
                "accepted": rng.choice((("completed", None), ("expired", None))),
                "in_progress": rng.choice((("completed", None), ("completed", None), ("revoked", "client_request"))),
            }[referral.status]
            self.do(stream, "update_referral", self.actor(stream), cmd.UpdateReferral(
                referral_id=referral_id, status=status, changed_on=day, reason=reason))

    # immigration

    def _immigration(self, stream: _Stream, day: dt.date, kind: str, milestone: str | None, k: int,
                     path: tuple[tuple[str, int, int | None], ...] = ()) -> None:
        rng = self.rng
        if milestone is None:
            if kind in ("hhs_certification", "hhs_eligibility"):
                age = stream.state.age_on(day)
                if age is not None:
                    kind = "hhs_certification" if age >= 18 else "hhs_eligibility"
            milestone = stream.next_id("milestone")
            path = _immigration_path(rng, kind)
        step, _, valid_days = path[k]
        relation = None
        if kind == "t_visa_derivative" and k == 0:
            family = stream.state.intake.family_served if stream.state.intake else FamilyServed()
            relation = "spouse" if family.spouse else "child" if family.children_under_18 else rng.choice(
                ("parent", "sibling"))
        receipt = f"DEMO-{kind[:2].upper()}-{stream.index + 1:04d}-{k}" if step in ("filed", "adjustment_filed") \
            else None
        self.do(stream, "record_immigration_step", self.actor(stream), cmd.RecordImmigrationStep(
            milestone_id=milestone, kind=kind, step=step, on=day, family_relation=relation, receipt_number=receipt,
            expires_on=day + dt.timedelta(days=valid_days) if valid_days else None))
        if k + 1 < len(path):
            self.at(day + dt.timedelta(days=path[k + 1][1]), stream, self._immigration, kind, milestone, k + 1, path)

    # closure, reopening, transfer

    def _close(self, stream: _Stream, day: dt.date, reopen_on: dt.date | None) -> None:
        rng, state, profile = self.rng, stream.state, stream.profile
        self._resolve_referrals(stream, day)
        weights = {"goals_met": 36, "client_request": 12, "lost_contact": 20, "moved_away": 10, "other": 5,
                   "deceased": 0 if reopen_on else 0.5, "repatriated": 7 if profile.foreign else 0,
                   "ineligible": 30 if state.intake and state.intake.eligibility_status == "ineligible" else 2}
        reason = _weighted(rng, weights)
        living = _weighted(rng, {
            "goals_met": {"rental": 35, "own_housing": 15, "with_family_friends": 25, "transitional_housing": 25},
            "lost_contact": {"unknown": 70, "unsheltered": 15, "shelter": 15},
            "deceased": {"unknown": 1},
            "repatriated": {"with_family_friends": 60, "unknown": 40},
        }.get(reason, {"rental": 20, "with_family_friends": 25, "transitional_housing": 15, "shelter": 15,
                       "institution": 5, "unknown": 20}))
        if profile.minor and living in ("rental", "own_housing", "unsheltered"):
            living = rng.choice(("foster_care", "with_family_friends"))
        self.do(stream, "close_case", self.actor(stream), cmd.CloseCase(
            closed_on=day, reason=reason, living_situation=living, **_obtained(state),
            referred_for_case_management=reason in ("moved_away", "client_request") and rng.random() < 0.5))
        if reopen_on is not None:
            self.at(reopen_on, stream, self._reopen, when_closed=True)

    def _reopen(self, stream: _Stream, day: dt.date) -> None:
        self.do(stream, "reopen_case", self.actor(stream), cmd.ReopenCase(
            reopened_on=day, reason="Synthetic: the client asked for services again."))
        self._start_enrolment(stream, day, first=False)
        if self.rng.random() < 0.4:
            self.at(_days(day, 30, 300, self.rng), stream, self._close, None)

    def _plan_transfer(self, stream: _Stream, transfer_on: dt.date, release: Sequence[str] | None) -> None:
        rng = self.rng
        recipient = rng.choice([o for o in self.orgs if o.id != stream.organisation.id])
        release = tuple(release or rng.choice((
            ("identity", "contact", "demographics", "trafficking", "needs", "services", "outcomes", "immigration"),
            ("demographics", "trafficking", "needs", "services"),
            ("identity", "contact", "needs"))))
        grant_on = max(stream.state.intake.intake_on, transfer_on - dt.timedelta(days=rng.randint(3, 20)))
        self.at(grant_on, stream, self._grant_transfer_consent, recipient.id, release)
        self.at(transfer_on, stream, self._transfer, recipient)

    def _grant_transfer_consent(self, stream: _Stream, day: dt.date, recipient: str, release: tuple[str, ...]) -> None:
        self._grant(stream, day, recipient, "case_transfer", release, self.rng.randint(60, 180), revocable=False)

    def _transfer(self, stream: _Stream, day: dt.date, recipient: _Organisation) -> None:
        rng = self.rng
        consent_id = next(cid for cid, c in sorted(stream.state.consents.items())
                          if c.granted.purpose == "case_transfer" and c.granted.recipient_organisation == recipient.id)
        self._resolve_referrals(stream, day)
        team = recipient.teams[2] if stream.profile.minor else rng.choice(recipient.teams)
        self.do(stream, "transfer", self.actor(stream), cmd.TransferCase(
            recipient_organisation=recipient.id, consent_id=consent_id, transferred_on=day,
            receiving_case_id=str(uuid.UUID(int=rng.getrandbits(128))),
            receiving_worker_id=rng.choice(recipient.workers[team]), receiving_team_id=team,
            living_situation=rng.choice(("rental", "with_family_friends", "transitional_housing", "shelter"))))

    def _start_received(self, stream: _Stream, day: dt.date) -> None:
        """The receiving organisation picks the case up: what the consent withheld is asked again."""
        rng = self.rng
        self.at(_days(day, 0, 7, rng), stream, self._statistics, stream.profile.statistics)
        if stream.state.victim_status is None:
            self.at(_days(day, 1, 30, rng), stream, self._receive_status)
        if stream.state.trafficking is None and rng.random() < 0.7:
            self.at(_days(day, 5, 60, rng), stream, self._update_trafficking)
        needs_on = _days(day, 0, 10, rng)
        self.at(needs_on, stream, self._assess_needs, None)
        self.at(_days(needs_on, 0, 14, rng), stream, self._set_goals)
        self.at(_days(day, 1, 10, rng), stream, self._service, None, rng.randint(1, 6), None)
        self.at(_days(day, 7, 30, rng), stream, self._assess_outcome, _outcome_domains(rng), None, rng.randint(1, 4))
        if rng.random() < 0.4:
            self.at(_days(day, 60, 400, rng), stream, self._close, None)

    def _receive_status(self, stream: _Stream, day: dt.date) -> None:
        self.do(stream, "determine_victim_status", self.actor(stream), cmd.DetermineVictimStatus(
            victim_status=VictimStatus(status=self.rng.choice(("confirmed", "strong_indicators")), determined_on=day,
                                       determined_by=stream.state.worker_id or "")))


# -- content -----------------------------------------------------------------------------

def _fits(category: str, foreign: bool, interpreter: bool, children: bool) -> bool:
    return {"repatriation": foreign, "legal_immigration": foreign, "interpretation_translation": interpreter,
            "childcare": children}.get(category, True)


def _birth_date(rng: random.Random, intake_on: dt.date, age: int) -> dt.date:
    """A birthday that makes the client exactly `age` on the intake date."""
    birth = dt.date(intake_on.year - age, 1, 1) + dt.timedelta(days=rng.randint(0, 364))
    if (birth.month, birth.day) == (2, 29):
        birth = birth.replace(day=28)
    if (birth.month, birth.day) > (intake_on.month, intake_on.day):
        birth = birth.replace(year=birth.year - 1)
    return birth


def _family(rng: random.Random, age: int) -> FamilyServed:
    if age < 18:
        return FamilyServed(parents=rng.choice((0, 0, 1, 2)), siblings=rng.choice((0, 0, 0, 1, 2)))
    return FamilyServed(
        spouse=1 if rng.random() < 0.2 else 0,
        children_under_18=rng.choice((0, 0, 0, 1, 2, 3)) if age < 50 else 0,
        children_18_plus=rng.choice((0, 0, 1, 2)) if age >= 40 else 0)


def _race(rng: random.Random) -> tuple[str, ...]:
    weights = {"hispanic_latino": 24, "black_african_american": 20, "white": 22, "asian": 14,
               "american_indian_alaska_native": 4, "native_hawaiian_pacific_islander": 2,
               "middle_eastern_north_african": 4, "not_reported": 10}
    first = _weighted(rng, weights)
    if first == "not_reported" or rng.random() < 0.85:
        return (first,)
    second = _weighted(rng, {k: v for k, v in weights.items() if k not in (first, "not_reported")})
    return tuple(sorted((first, second)))


def _contact(rng: random.Random, n: int, word: str) -> SafeContact:
    phone = f"555-01{rng.randint(0, 99):02d}"  # reserved for fiction
    options = [
        ContactChannel(channel="phone_call", detail=phone, safe_times=rng.choice(_SAFE_TIMES),
                       may_leave_message=rng.random() < 0.3),
        ContactChannel(channel="text_message", detail=phone, safe_times=rng.choice(_SAFE_TIMES)),
        ContactChannel(channel="email", detail=f"client.{word.lower()}{n}@example.org"),
        ContactChannel(channel="in_person", detail="At the demo office only"),
        ContactChannel(channel="through_advocate", detail="Demo advocate desk"),
    ]
    channels = tuple(rng.sample(options, rng.randint(1, 2)))
    return SafeContact(channels=channels, code_word=f"{rng.choice(_WORDS).lower()} {rng.choice(_OBJECTS)}",
                       notes="Synthetic contact note: never contact through a relative." if rng.random() < 0.2
                       else None)


def _trafficking(rng: random.Random, kind: str, *, minor: bool, foreign: bool) -> TraffickingContext:
    codes = CURRENT.lists
    sex, labor = kind in ("sex", "both"), kind in ("labor", "both")
    recruitment_pool = ["internet", "intimate_partner", "familial", "other"] if sex else []
    if labor or kind == "unknown":
        recruitment_pool += ["job_offer", "job_offer", "other"]
    if rng.random() < 0.05:
        recruitment_pool.append("abduction")
    vulnerabilities = ["poverty", "substance_use", "mental_health", "homelessness", "domestic_violence",
                       "disability", "other"]
    if minor:
        vulnerabilities += ["runaway", "runaway", "child_welfare_involvement", "child_welfare_involvement"]
    if foreign:
        vulnerabilities += ["recent_migration", "recent_migration", "poverty"]
    unknown = kind == "unknown"
    return TraffickingContext(
        trafficking_type=kind,
        commercial_sex_act=sex and (minor or rng.random() < 0.92),
        recruitment=_some(rng, recruitment_pool, 0 if unknown else 1, 2),
        control_methods=_some(rng, codes["control_method"], 0 if unknown else 2, 5),
        labor_industries=_some(rng, codes["labor_industry"], 1, 2) if labor else (),
        sex_exploitation=_some(rng, codes["sex_exploitation"], 1, 2) if sex else (),
        vulnerabilities=tuple(sorted(set(rng.sample(vulnerabilities, rng.randint(1, 3))))),
        recruitment_location=f"Fictional locality {rng.randint(1, 40)}" if rng.random() < 0.6 else None,
        exploitation_location=f"Fictional locality {rng.randint(1, 40)}" if rng.random() < 0.6 else None,
        narrative="Synthetic narrative for the demo; it describes no real person or place."
        if rng.random() < 0.5 else None)


def _outcome_domains(rng: random.Random) -> tuple[str, ...]:
    others = [d for d in CURRENT.lists["outcome_domain"] if d not in ("safety", "housing_stability", "mental_health")]
    return ("housing_stability", "mental_health", "safety", *rng.sample(others, rng.randint(1, len(others))))


def _immigration_kinds(rng: random.Random, minor: bool, family: FamilyServed) -> tuple[str, ...]:
    kinds = []
    if minor:
        if rng.random() < 0.8:
            kinds.append("hhs_eligibility")
        if rng.random() < 0.15:
            kinds.append("continued_presence")
    else:
        if rng.random() < 0.4:
            kinds.append("law_enforcement_declaration")
        if rng.random() < 0.35:
            kinds.append("continued_presence")
        if rng.random() < 0.5:
            kinds.append("hhs_certification")
    if rng.random() < (0.4 if minor else 0.6):
        kinds.append("t_visa")
        if (family.spouse or family.children_under_18) and rng.random() < 0.6:
            kinds.append("t_visa_derivative")
    elif rng.random() < 0.2:
        kinds.append("u_visa")
    return tuple(kinds)


def _immigration_path(rng: random.Random, kind: str) -> tuple[tuple[str, int, int | None], ...]:
    """(step, days after the previous step, days of validity for Continued Presence)."""
    def r(low: int, high: int) -> int:
        return rng.randint(low, high)

    if kind == "continued_presence":
        path: list[tuple[str, int, int | None]] = [("requested", 0, None)]
        if rng.random() < 0.2:
            path += [("denied", r(30, 90), None), ("requested", r(60, 120), None)]
        period = rng.choice((365, 730))  # one year before 2021, two since
        path.append(("granted", r(30, 120), period))
        if period == 365:
            path.append(("extended", r(300, 350), 365) if rng.random() < 0.7 else ("expired", period, None))
        return tuple(path)
    if kind == "t_visa":
        path = [("preparing", 0, None), ("filed", r(30, 120), None)] if rng.random() < 0.7 \
            else [("filed", 0, None)]
        if rng.random() < 0.05:
            return (*path, ("withdrawn", r(30, 200), None))
        if rng.random() < 0.4:
            path += [("evidence_requested", r(90, 240), None), ("evidence_submitted", r(20, 80), None)]
        path.append(("approved" if rng.random() < 0.85 else "denied", r(120, 420), None))
        return tuple(path)
    if kind == "t_visa_derivative":
        return (("filed", 0, None), (_weighted(rng, {"approved": 80, "denied": 12, "withdrawn": 8}), r(180, 500), None))
    if kind == "law_enforcement_declaration":
        if rng.random() < 0.25:
            return (("requested", 0, None), ("declined", r(30, 90), None), ("requested", r(30, 120), None),
                    ("signed", r(20, 90), None))
        return (("requested", 0, None), ("signed", r(20, 120), None))
    if kind == "u_visa":
        if rng.random() < 0.2:
            return (("certification_requested", 0, None), ("certification_declined", r(30, 150), None))
        return (("certification_requested", 0, None), ("certified", r(30, 150), None), ("filed", r(20, 90), None),
                ("waitlisted", r(180, 400), None), ("approved", r(200, 500), None))
    if kind == "hhs_certification":
        return (("requested", 0, None), ("issued" if rng.random() < 0.88 else "denied", r(14, 90), None))
    if kind == "hhs_eligibility":
        if rng.random() < 0.7:
            return (("requested", 0, None), ("interim_issued", r(1, 7), None), ("issued", r(30, 90), None))
        return (("requested", 0, None), ("issued" if rng.random() < 0.9 else "denied", r(20, 90), None))
    raise ValueError(f"no demo path for {kind!r}")


def _referral_path(rng: random.Random, target: str) -> list[tuple[str, str | None]]:
    sent, accepted, in_progress = ("sent", None), ("accepted", None), ("in_progress", None)
    # (`consent_revoked` comes from the domain itself, when a consent a referral relies on is revoked)
    revoke_reason = _weighted(rng, {"client_request": 45, "safety_concern": 20, "entered_in_error": 10, "other": 25})
    return {
        "proposed": [],
        "sent": [sent],
        "accepted": [sent, accepted],
        "declined": [sent, ("declined", _weighted(rng, {"no_capacity": 35, "not_eligible": 20, "client_declined": 20,
                                                         "unreachable": 15, "duplicate": 5, "other": 5}))],
        "in_progress": [sent, accepted, in_progress],
        "completed": [sent, accepted, *([in_progress] if rng.random() < 0.7 else []), ("completed", None)],
        "revoked": [*rng.choice(([], [sent], [sent, accepted], [sent, accepted, in_progress])),
                    ("revoked", revoke_reason)],
        "expired": [*rng.choice(([], [sent], [sent, accepted])), ("expired", None)],
    }[target]


def _gap(rng: random.Random, status: str) -> int:
    low, high = {"sent": (0, 3), "accepted": (1, 10), "declined": (1, 14), "in_progress": (1, 10),
                 "completed": (14, 120), "revoked": (3, 60), "expired": (30, 90)}[status]
    return rng.randint(low, high)


def _obtained(state: CaseState) -> dict[str, bool]:
    def obtained(*kinds: str) -> bool:
        return any(step in OBTAINED_STEPS[m.kind] for m in state.milestones.values() if m.kind in kinds
                   for step, _ in m.history)

    return {"obtained_continued_presence": obtained("continued_presence"),
            "obtained_t_visa": obtained("t_visa"),
            "obtained_hhs_letter": obtained("hhs_certification", "hhs_eligibility")}

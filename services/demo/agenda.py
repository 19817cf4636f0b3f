"""The demo planner's machinery: the cases it builds, and the agenda that runs their actions.

A planned case is a stream kept in memory: its state, its events and the profile drawn for
it. `AgendaPlanner.do` decides each command with the domain's own `decide`, exactly as the
use case will, and records the step; `at` puts an action on the agenda for a later day, and
`run_agenda` runs the actions in date order, each on the state of its day. The layers built
on it (care, referrals, immigration, enrolment, closure) plan actions and pass their
commands through these two only.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import random
from collections import Counter
from collections.abc import Callable
from typing import Any, NamedTuple

from domain.case import commands as cmd
from domain.case.decide import Context, decide, receiving_case
from domain.case.events import CaseTransferred
from domain.case.state import CaseState, fold
from domain.codebook import CURRENT
from domain.event import DomainEvent
from services.commands.ports import Actor
from services.demo.organisations import Organisation
from services.demo.plan import Step, StreamKey, demo_now

# Coverage: a category or kind not delivered yet is steered into the next case that fits it.
SERVICE_CATEGORIES: tuple[str, ...] = tuple(CURRENT.lists["service_category"])
IMMIGRATION_KINDS: tuple[str, ...] = tuple(CURRENT.lists["immigration_kind"])


class CaseProfile(NamedTuple):
    """How a planned case goes, drawn once at its intake."""

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


class PlannedStream:
    """One case stream as the planner builds it."""

    __slots__ = ("organisation", "case_id", "index", "state", "events", "counters", "profile")

    def __init__(
        self, organisation: Organisation, case_id: str, index: int, profile: CaseProfile
    ) -> None:
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

    def current_needs(self) -> tuple[str, ...]:
        """The latest needs assessment's needs (case management before any)."""
        return self.state.needs[-1].needs if self.state.needs else ("case_management",)


AgendaItem = tuple[dt.date, int, PlannedStream, int, bool, Callable[..., None], tuple[Any, ...]]


class AgendaPlanner:
    """Decides and records commands, and runs planned actions on their day."""

    def __init__(self, rng: random.Random, today: dt.date, orgs: tuple[Organisation, ...]) -> None:
        self.rng = rng
        self.today = today
        self.now = demo_now(today)
        self.orgs = orgs
        self.streams: dict[StreamKey, PlannedStream] = {}
        self.steps: list[Step] = []
        self.agenda: list[AgendaItem] = []
        self.sequence = itertools.count()
        self.uncovered_services = list(SERVICE_CATEGORIES)
        self.uncovered_kinds = list(IMMIGRATION_KINDS)

    def do(self, stream: PlannedStream, use_case: str, actor: Actor, command: cmd.Command) -> None:
        """Decide the command exactly as the use case will, and record the step."""
        before = stream.state
        try:
            events = decide(before, command, Context(now=self.now, actor_id=actor.user_id))
        except Exception as error:
            error.add_note(f"demo generator bug: case #{stream.index} {use_case} {command!r}")
            raise
        stream.state = fold(
            ((before.version + k, e) for k, e in enumerate(events, start=1)), before
        )
        stream.events.extend(events)
        self.steps.append(
            Step(use_case, actor, stream.case_id, command, before.version, stream.state.version)
        )
        if isinstance(command, cmd.RecordService) and command.category in self.uncovered_services:
            self.uncovered_services.remove(command.category)
        if isinstance(command, cmd.RecordImmigrationStep) and command.kind in self.uncovered_kinds:
            self.uncovered_kinds.remove(command.kind)
        if isinstance(command, cmd.TransferCase):
            transferred = next(e for e in events if isinstance(e, CaseTransferred))
            opened = receiving_case(before, transferred, command)
            org = next(o for o in self.orgs if o.id == command.recipient_organisation)
            received = PlannedStream(org, command.receiving_case_id, stream.index, stream.profile)
            received.state = fold([(1, opened)])
            received.events.append(opened)
            self.streams[(org.id, received.case_id)] = received
            self.start_received(received, command.transferred_on)

    def start_received(self, stream: PlannedStream, day: dt.date) -> None:
        """Plan the receiving organisation's work on a case transferred to it on `day`."""
        raise NotImplementedError("the planner that transfers cases plans what follows")

    def at(
        self,
        day: dt.date,
        stream: PlannedStream,
        action: Callable[..., None],
        *args: Any,
        when_closed: bool = False,
    ) -> None:
        """Plan `action(stream, day, *args)` for the stream's current enrolment."""
        item = (
            day,
            next(self.sequence),
            stream,
            stream.state.enrolments,
            when_closed,
            action,
            args,
        )
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

    def actor(self, stream: PlannedStream) -> Actor:
        return Actor(stream.state.worker_id or "", stream.organisation.id, f"demo-{stream.index}")

    def supervisor(self, stream: PlannedStream) -> Actor:
        org = stream.organisation
        return Actor(org.supervisor, org.id, f"demo-{stream.index}")

"""What a demo plan is: each intake's steps, the streams they write, and their summary.

The planner produces these, the seeding and bulk paths replay them, and the tests compare
them; the types live apart from all three so that none of them depends on another for them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import msgspec

from domain.case import commands as cmd
from domain.case.lifecycles import REFERRAL_TRANSITIONS
from domain.case.state import fold
from domain.event import DomainEvent
from services.commands.ports import Actor

DEMO_TODAY = dt.date(2026, 9, 30)  # the end of federal fiscal year 2026
REFERRAL_STATUSES: tuple[str, ...] = tuple(REFERRAL_TRANSITIONS)


class DemoDrift(RuntimeError):
    """The database did not end up where the plan said (a stream was written by someone else)."""


class DemoSummary(NamedTuple):
    cases: int  # case streams written: one per intake, plus one per received transfer
    events: int
    organisations: tuple[str, ...]
    per_organisation: Mapping[str, int]  # case streams per organisation
    closed: int  # case streams closed at the end (transferred-out cases included)
    reopened: int  # case streams reopened at least once
    transferred: int  # transfers between the demo organisations
    referral_statuses: Mapping[str, int]  # current status of every referral, every status listed

    def lines(self) -> list[str]:
        orgs = ", ".join(f"{org} {n}" for org, n in self.per_organisation.items())
        statuses = ", ".join(f"{status} {n}" for status, n in self.referral_statuses.items())
        return [
            f"cases: {self.cases} ({orgs})",
            f"events: {self.events}",
            f"closed: {self.closed}, reopened: {self.reopened}, transferred: {self.transferred}",
            f"referrals: {statuses}",
        ]


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


def demo_now(today: dt.date) -> dt.datetime:
    """The moment the plan is decided at: noon UTC on `today`."""
    return dt.datetime.combine(today, dt.time(12), tzinfo=dt.UTC)


def events_digest(streams: Mapping[StreamKey, Sequence[DomainEvent]]) -> str:
    """A digest of every (organisation, case id, version, event), independent of write order."""
    encoder = msgspec.msgpack.Encoder()
    digest = hashlib.sha256()
    for key in sorted(streams):
        for version, event in enumerate(streams[key], start=1):
            digest.update(encoder.encode((key[0], key[1], version, event)))
    return digest.hexdigest()


def summarise(
    streams: Mapping[StreamKey, Sequence[DomainEvent]], organisations: Sequence[str]
) -> DemoSummary:
    states = [fold(enumerate(events, start=1)) for events in streams.values()]
    per_org = Counter(state.organisation_id for state in states)
    statuses = Counter(r.status for state in states for r in state.referrals.values())
    return DemoSummary(
        cases=len(states),
        events=sum(len(events) for events in streams.values()),
        organisations=tuple(organisations),
        per_organisation={org: per_org[org] for org in organisations},
        closed=sum(state.is_closed for state in states),
        reopened=sum(state.enrolments > 1 for state in states),
        transferred=sum(state.transfer is not None for state in states),
        referral_statuses={s: statuses[s] for s in REFERRAL_STATUSES},
    )

"""The demo generator's fast path: decide in memory, one append per stream, large transactions.

`seed_demo` plays a plan through `CaseUseCases`, one command at a time: read the stream, fold
it, decide, append, commit. That is the service's own path, and too slow for the hundreds of
thousands of events a benchmark seeds. `write_scripts` / `write_plan` decide every step again
with the domain against the case's state kept in memory, with the `Context` and metadata the
use cases build (`CaseUseCases.context` and `metadata`, so the two paths cannot drift apart;
any step that ends elsewhere than the plan says raises `DemoDrift`), then write each stream
with ONE `append` of all its events, many streams to a transaction, several transactions side
by side. One append per stream is the store's rule, not a shortcut: an append to an existing
stream must be its transaction's first write (`events.log_order`).

The streams, their events, versions and folded states are those of `seed_demo` (tested). What
differs, by construction: all of a stream's events carry its first step's metadata (actor,
command id), where the use cases give each step its own; and a stream's events are contiguous
in the log, a transaction holding whole cases.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from domain.case import commands as cmd
from domain.case.decide import decide, receiving_case
from domain.case.events import CaseTransferred
from domain.case.state import CaseState, fold
from domain.event import DomainEvent, EventMetadata
from events.store import PostgresEventStore
from services.commands.use_cases import CaseUseCases
from services.demo.generator import demo_plan
from services.demo.organisations import DEFAULT_ORGANISATIONS
from services.demo.plan import DEMO_TODAY, DemoDrift, DemoPlan, DemoSummary, Step, StreamKey
from services.demo.seeding import demo_use_cases

SCRIPTS_PER_TRANSACTION = 40  # ~28 events per script (~50 rich): ~1,100 (~2,000) events per commit
LOADERS = 4  # transactions in flight at once


class _Pending:
    """A stream being built in memory: its state, its events, its metadata."""

    __slots__ = ("state", "events", "metadata")

    def __init__(
        self, state: CaseState, events: list[DomainEvent], metadata: EventMetadata
    ) -> None:
        self.state = state
        self.events = events
        self.metadata = metadata


class BulkResult(NamedTuple):
    events: int
    streams: int
    steps: int
    states: Mapping[StreamKey, CaseState]  # every written case's state at the end


class _Decider:
    def __init__(
        self, use_cases: CaseUseCases, expected: Mapping[StreamKey, Sequence[DomainEvent]] | None
    ) -> None:
        self._use_cases = use_cases
        self._expected = expected

    def decide_scripts(self, scripts: Sequence[Sequence[Step]]) -> dict[StreamKey, _Pending]:
        """Every stream the scripts write, in the order they were opened."""
        streams: dict[StreamKey, _Pending] = {}
        for script in scripts:
            for step in script:
                self._step(streams, step)
        return streams

    def _step(self, streams: dict[StreamKey, _Pending], step: Step) -> None:
        actor, use_cases = step.actor, self._use_cases
        key = (actor.organisation_id, step.case_id)
        pending = streams.get(key)
        if (
            isinstance(step.command, cmd.OpenCase)
            and step.command.organisation_id != actor.organisation_id
        ):
            raise ValueError("a case is opened in the actor's own organisation")
        before = pending.state if pending is not None else CaseState()
        if before.version != step.expected_version:
            raise DemoDrift(
                f"case {step.case_id} is at version {before.version}, "
                f"the plan expects {step.expected_version}"
            )
        events = decide(before, step.command, use_cases.context(actor))
        after = fold(((before.version + k, e) for k, e in enumerate(events, start=1)), before)
        if after.version != step.version:
            raise DemoDrift(
                f"case {step.case_id} would be at version {after.version}, "
                f"the plan says {step.version}"
            )
        if self._expected is not None and tuple(events) != tuple(
            self._expected[key][before.version : after.version]
        ):
            raise DemoDrift(
                f"case {step.case_id}: {step.use_case} decides other events than the plan's"
            )
        if pending is None:
            pending = streams[key] = _Pending(after, [], use_cases.metadata(actor))
        pending.state = after
        pending.events.extend(events)
        if isinstance(step.command, cmd.TransferCase):
            command = step.command
            transferred = next(e for e in events if isinstance(e, CaseTransferred))
            opened = receiving_case(before, transferred, command)
            received_key = (command.recipient_organisation, command.receiving_case_id)
            if received_key in streams:
                raise DemoDrift(f"the receiving case {command.receiving_case_id} exists already")
            if self._expected is not None and tuple(self._expected[received_key][:1]) != (opened,):
                raise DemoDrift(
                    f"case {command.receiving_case_id}: the received case differs from the plan's"
                )
            # As `CaseUseCases.transfer`: the receiving record names the sending organisation.
            metadata = use_cases.metadata(actor)
            received = EventMetadata(
                actor_id=f"transfer-from:{actor.organisation_id}",
                command_id=metadata.command_id,
                correlation_id=metadata.correlation_id,
            )
            streams[received_key] = _Pending(fold([(1, opened)]), [opened], received)


async def write_scripts(
    store: PostgresEventStore,
    scripts: Sequence[Sequence[Step]],
    today: dt.date = DEMO_TODAY,
    *,
    expected: Mapping[StreamKey, Sequence[DomainEvent]] | None = None,
    scripts_per_transaction: int = SCRIPTS_PER_TRANSACTION,
    loaders: int = LOADERS,
) -> BulkResult:
    """Decide and write the scripts — each a case's steps in order, touching only streams
    that are new and its own (as the demo plan's scripts are) — `scripts_per_transaction`
    to a transaction, `loaders` transactions at a time. With `expected` (a plan's streams),
    each step must decide exactly the planned events."""
    if scripts_per_transaction < 1 or loaders < 1:
        raise ValueError("scripts_per_transaction and loaders must be positive")
    decider = _Decider(demo_use_cases(store, today), expected)
    groups = iter(
        [
            scripts[i : i + scripts_per_transaction]
            for i in range(0, len(scripts), scripts_per_transaction)
        ]
    )
    states: dict[StreamKey, CaseState] = {}
    totals = {"events": 0, "streams": 0, "steps": 0}

    async def loader() -> None:
        for group in groups:  # shared: each group is taken by exactly one loader
            # decided before the transaction opens, so it holds no locks while Python works
            streams = decider.decide_scripts(group)
            async with store.transaction() as conn:
                for (tenant_id, case_id), pending in streams.items():
                    result = await store.append(
                        tenant_id,
                        uuid.UUID(case_id),
                        0,
                        pending.events,
                        pending.metadata,
                        connection=conn,
                    )
                    if result.version != pending.state.version:
                        raise DemoDrift(
                            f"case {case_id} was written up to version {result.version}"
                        )
            for key, pending in streams.items():
                if key in states:
                    raise DemoDrift(f"case {key[1]} is written by two scripts")
                states[key] = pending.state
            totals["events"] += sum(len(pending.events) for pending in streams.values())
            totals["streams"] += len(streams)
            totals["steps"] += sum(len(script) for script in group)

    try:
        async with asyncio.TaskGroup() as tasks:
            for _ in range(loaders):
                tasks.create_task(loader())
    except BaseExceptionGroup as failed:  # the first failure, as itself
        while isinstance(failed, BaseExceptionGroup):
            failed = failed.exceptions[0]
        raise failed from None
    return BulkResult(totals["events"], totals["streams"], totals["steps"], states)


async def write_plan(
    store: PostgresEventStore,
    plan: DemoPlan,
    *,
    scripts_per_transaction: int = SCRIPTS_PER_TRANSACTION,
    loaders: int = LOADERS,
) -> BulkResult:
    """Write every step of `plan` through the bulk path, checked against the plan's events."""
    result = await write_scripts(
        store,
        plan.scripts,
        plan.today,
        expected=plan.streams,
        scripts_per_transaction=scripts_per_transaction,
        loaders=loaders,
    )
    if result.events != plan.summary.events or result.streams != len(plan.streams):
        raise DemoDrift(
            f"wrote {result.events} events in {result.streams} streams, the plan has "
            f"{plan.summary.events} in {len(plan.streams)}"
        )
    return result


async def seed_demo_bulk(
    store: PostgresEventStore,
    *,
    cases: int,
    seed: int = 7,
    organisations: Sequence[str] = DEFAULT_ORGANISATIONS,
    today: dt.date = DEMO_TODAY,
    scripts_per_transaction: int = SCRIPTS_PER_TRANSACTION,
    loaders: int = LOADERS,
    rich: bool = False,
) -> DemoSummary:
    """`seed_demo` through the bulk path: the same plan, the same streams and events (`rich`:
    the longer case life, see `demo_plan`)."""
    plan = demo_plan(seed=seed, cases=cases, today=today, organisations=organisations, rich=rich)
    await write_plan(store, plan, scripts_per_transaction=scripts_per_transaction, loaders=loaders)
    return plan.summary

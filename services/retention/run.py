"""Applying the retention policies: list the closed cases past their organisation's policy,
then erase each through the privacy officer's erasure (`case_privacy.erase`, the path of
`DELETE /v1/cases/{id}`) with the ground ``retention-policy``.

The listing reads the caseload read model (ids, versions and closure dates, nothing
decrypted). Each erasure then decides again on the case as its stream gives it: erased only if
it is still at the version listed and still past the policy (`domain.retention`), and the
erasure's transaction holds the stream's head at that version, so a case reopened or changed
since the listing is kept. A run is idempotent: an erased case leaves the read model, so the
next run does not list it. A dry run lists and changes nothing.

The erasures are made as `RETENTION_ACTOR`, acting as the organisation's privacy officer; each
one's access record names that actor and the ground.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

from domain.case.state import CaseState
from domain.retention import RetentionPolicy, case_past_policy, closed_before
from events.store import Connection
from projections.queries import ViewNotBuilt, reads_view
from services.authorisation import NotFound
from services.bootstrap import Runtime
from services.commands import case_privacy
from services.commands.case_reads import Reader
from services.identity import Principal
from services.identity.claims import DEFAULT_TEAM
from services.observability.logging import get_logger
from services.retention.policy import current_policy

RETENTION_ACTOR = "haven-retention"
RETENTION_GROUND = "retention-policy"

_log = get_logger("retention")


class DueCase(NamedTuple):
    """A closed case past its organisation's policy, as the read model lists it."""

    organisation_id: str
    case_id: uuid.UUID
    closed_on: dt.date
    version: int


class Outcome(NamedTuple):
    case: DueCase
    erased: bool | None  # None: a dry run; False: changed since it was listed, kept


@reads_view
async def organisations_with_cases(conn: Connection | Any) -> list[str]:
    rows = await conn.fetch("SELECT DISTINCT tenant_id FROM views.caseload ORDER BY 1")
    return [row[0] for row in rows]


@reads_view
async def due_cases(
    conn: Connection | Any, organisation_id: str, policy: RetentionPolicy, today: dt.date
) -> list[DueCase]:
    """The organisation's closed cases past `policy` on `today`, oldest closure first."""
    rows = await conn.fetch(
        """SELECT case_id, closed_on, version FROM views.caseload
            WHERE tenant_id = $1 AND NOT is_open AND closed_on < $2
            ORDER BY closed_on, case_id""",
        organisation_id,
        closed_before(policy, today),
    )
    return [DueCase(organisation_id, row[0], row[1], row[2]) for row in rows]


def retention_reader(organisation_id: str) -> Reader:
    """Who the retention run erases as: the organisation's privacy officer, by role."""
    principal = Principal(
        user_id=RETENTION_ACTOR,
        organisation_id=organisation_id,
        roles=frozenset({"privacy_officer"}),
        team_id=DEFAULT_TEAM,
        token_id=None,
        expires_at=dt.datetime.max.replace(tzinfo=dt.UTC),
    )
    return Reader(principal, request_id=None)


async def erase_due(
    runtime: Runtime, case: DueCase, policy: RetentionPolicy, today: dt.date
) -> bool:
    """Erase the listed case if it is still as listed and past the policy; whether it was."""

    def still_due(state: CaseState) -> bool:
        return state.version == case.version and case_past_policy(state, policy, today)

    try:
        await case_privacy.erase(
            runtime,
            retention_reader(case.organisation_id),
            case.case_id,
            RETENTION_GROUND,
            only_if=still_due,
        )
    except (case_privacy.CaseChanged, NotFound):  # changed, or erased meanwhile
        return False
    return True


async def policies(runtime: Runtime, organisation_id: str | None) -> dict[str, RetentionPolicy]:
    """The policy of the organisation named, or of every organisation with cases; those
    without a policy keep everything and are left out."""
    names = (
        [organisation_id]
        if organisation_id is not None
        else await organisations_with_cases(runtime.pool)
    )
    found: dict[str, RetentionPolicy] = {}
    for name in names:
        record = await current_policy(runtime.store, name)
        if record.policy is not None:
            found[name] = record.policy
    return found


async def run_retention(
    runtime: Runtime,
    today: dt.date,
    *,
    organisation_id: str | None = None,
    dry_run: bool = False,
) -> list[Outcome]:
    """List the cases past their policy on `today` and (unless `dry_run`) erase each."""
    outcomes = []
    for name, policy in (await policies(runtime, organisation_id)).items():
        for case in await due_cases(runtime.pool, name, policy, today):
            erased = None if dry_run else await erase_due(runtime, case, policy, today)
            outcomes.append(Outcome(case, erased))
    return outcomes


def seconds_to_next_day(now: dt.datetime) -> float:
    """From `now` (UTC) to a minute past the next midnight UTC."""
    tomorrow = (now + dt.timedelta(days=1)).replace(hour=0, minute=1, second=0, microsecond=0)
    return (tomorrow - now).total_seconds()


async def retention_daily(
    runtime: Runtime, clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
) -> None:
    """`haven worker` with `HAVEN_RETENTION_DAILY=1`: a run at once, then a minute after each
    midnight UTC, until cancelled.
    A failed run is logged (counts and the error's class only) and tried again the next day."""
    while True:
        try:
            outcomes = await run_retention(runtime, clock().date())
        except ViewNotBuilt:
            _log.warning("retention run skipped: the caseload is not built yet")
        except Exception as error:
            _log.error("retention run failed", error_class=type(error).__name__)
        else:
            _log.info(
                "retention run",
                erased=sum(o.erased is True for o in outcomes),
                kept_changed=sum(o.erased is False for o in outcomes),
            )
        await asyncio.sleep(seconds_to_next_day(clock()))

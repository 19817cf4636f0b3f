"""Referrals in a partner's inbox expire by rule, not by hand.

The rule is the sending case's (`domain.case.inbox_rules`): a referral still unanswered
after its answer-by day cannot be answered any more (the answer is refused, whenever it
comes, whatever this sweep has done), and its expiry may be recorded. `expire_overdue` finds
those still waiting in ``views.referral_inbox`` and records each expiry on its sending case
as of the day after the answer-by day, by `system:referral-expiry`; the projectors' process
runs it once an hour (`expire_periodically`: `haven serve`, `haven worker`). A referral
answered, revoked or changed meanwhile is left to what happened to it (the domain refuses,
or the append conflicts); the next run sees the read model caught up. Until its expiry is
recorded, the inbox shows the referral as overdue and no longer shows what was released.

A periodic sweep rather than an expiry recorded when a read notices it: reads stay reads,
and a referral nobody looks at still expires on the sender's case, where its worker and the
follow-up tasks see it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

from domain.case import commands as cmd
from domain.case.errors import DomainError
from events.errors import ConcurrencyConflict
from events.store import utc_now
from projections import referral_inbox
from projections.queries import ViewNotBuilt
from services.bootstrap import Runtime
from services.commands.ports import Actor
from services.commands.use_cases import CaseUseCases
from services.observability.logging import get_logger

EXPIRY_ACTOR = "system:referral-expiry"
SWEEP_EVERY = 3600.0  # seconds
SWEEP_AT_MOST = 500  # expiries per run; the next run takes the rest

_log = get_logger("inbox")


async def expire_overdue(runtime: Runtime, today: dt.date) -> int:
    """Record the expiry of each referral still waiting after its day; how many it recorded."""
    use_cases = CaseUseCases(runtime.store)
    recorded = 0
    for item in await referral_inbox.overdue(runtime.pool, today, SWEEP_AT_MOST):
        command = cmd.ExpireReferral(
            referral_id=item.referral_id, expired_on=item.answer_by + dt.timedelta(days=1)
        )
        try:
            await use_cases.execute(
                Actor(EXPIRY_ACTOR, item.from_organisation), str(item.sending_case_id), command
            )
        except (DomainError, ConcurrencyConflict):
            continue  # answered, revoked or changed meanwhile
        recorded += 1
    return recorded


async def expire_periodically(
    runtime: Runtime, *, every: float = SWEEP_EVERY, clock: Callable[[], dt.datetime] = utc_now
) -> None:
    """`expire_overdue` now and every `every` seconds, until cancelled."""
    while True:
        try:
            expired = await expire_overdue(runtime, clock().date())
            if expired:
                _log.info("referrals expired", count=expired)
        except ViewNotBuilt:
            pass  # the inbox is not built yet: nothing can be waiting in it
        except Exception as error:  # the next run tries again; the projections run on
            _log.warning("referral expiry failed", exc_type=type(error).__name__)
        await asyncio.sleep(every)

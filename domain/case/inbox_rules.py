"""The closed loop of a referral to a partner organisation of the same deployment.

Sending it puts it in the recipient's inbox with a day to answer by (`inbox_deadline`: the
sending day plus the deployment's answer period). From then on its answer is the
recipient's: accepted, or declined with a reason (`answer_referral`); and a referral still
unanswered after that day expires by rule (`expire_referral`), never by hand — the sender
records neither (`care_rules.update_referral` refuses it). The sender may still revoke it,
and after an acceptance records its progress as for any referral.
"""

from __future__ import annotations

import datetime as dt

from domain.case import commands as cmd
from domain.case import errors as err
from domain.case import events as ev
from domain.case.checks import Context, not_before, not_future, require_codes
from domain.case.state import CaseState, ReferralState
from domain.event import DomainEvent

RECIPIENT_ANSWERS = frozenset({"accepted", "declined", "expired"})
MAX_ANSWER_DAYS = 10_000  # as HAVEN_REFERRAL_ANSWER_DAYS allows


def inbox_deadline(referral: ReferralState, c: cmd.UpdateReferral) -> dt.date | None:
    """The day the recipient answers by, when `c` sends the referral to a partner's inbox."""
    if c.answer_days is None:
        return None
    if c.status != "sent" or referral.proposed.kind != "external":
        raise err.InvalidValue("only an external referral being sent goes to an inbox")
    if not 1 <= c.answer_days <= MAX_ANSWER_DAYS:
        raise err.InvalidValue(f"the answer period is 1 to {MAX_ANSWER_DAYS} days")
    return c.changed_on + dt.timedelta(days=c.answer_days)


def is_overdue(answer_by: dt.date, today: dt.date) -> bool:
    """Unanswered past its day: it expires."""
    return today > answer_by


def _waiting(state: CaseState, referral_id: str) -> tuple[ReferralState, dt.date]:
    referral = state.referrals.get(referral_id)
    if referral is None or referral.answer_by is None:
        raise err.ReferralNotFound("no such referral in a partner's inbox")
    if referral.status != "sent":
        raise err.ReferralNotOpen(f"the referral is {referral.status}")
    return referral, referral.answer_by


def answer_referral(state: CaseState, c: cmd.AnswerReferral, context: Context) -> list[DomainEvent]:
    referral, answer_by = _waiting(state, c.referral_id)
    if c.status == "declined":
        if c.reason is None:
            raise err.ReasonRequired("a declined referral needs a reason")
        require_codes(context, "decline_reason", c.reason)
    elif c.status == "accepted":
        if c.reason is not None:
            raise err.InvalidValue("an accepted referral takes no reason")
    else:
        raise err.InvalidValue("a referral is accepted or declined")
    not_future(context, c.answered_on, "the answer")
    not_before(c.answered_on, referral.last_changed_on, "the answer", "the referral was sent")
    if is_overdue(answer_by, c.answered_on):
        raise err.ReferralOverdue("the referral was not answered in time and has expired")
    return [
        ev.ReferralStatusChanged(
            referral_id=c.referral_id, status=c.status, changed_on=c.answered_on, reason=c.reason
        )
    ]


def expire_referral(state: CaseState, c: cmd.ExpireReferral, context: Context) -> list[DomainEvent]:
    _, answer_by = _waiting(state, c.referral_id)
    not_future(context, c.expired_on, "the expiry")
    if not is_overdue(answer_by, c.expired_on):
        raise err.ReferralNotOverdue("the recipient may still answer the referral")
    return [
        ev.ReferralStatusChanged(
            referral_id=c.referral_id, status="expired", changed_on=c.expired_on
        )
    ]

"""The closed loop of a referral to a partner's inbox (`domain.case.inbox_rules`) and what the
inbox receives (`domain.inbox.release`): a day to answer by, the answer the recipient's
alone, expiry by rule, only the released categories."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.case import commands as cmd
from domain.case import errors as err
from domain.case import events as ev
from domain.inbox.release import item_id, received
from tests.domain.builders import (
    ORG,
    consent_granted,
    day,
    external_referral_proposed,
    given,
    internal_referral_proposed,
    opened_event,
    then,
    when,
)

OPENED = opened_event()
PROPOSED = [OPENED, consent_granted(), external_referral_proposed()]
SENT_ON = day(3, 2)
SEND = cmd.UpdateReferral(referral_id="ref-1", status="sent", changed_on=SENT_ON, answer_days=14)
ANSWER_BY = SENT_ON + dt.timedelta(days=14)


def sent() -> list[ev.DomainEvent]:
    return [*PROPOSED, *when(PROPOSED, SEND)]


def test_sending_to_a_partners_inbox_sets_the_day_to_answer_by() -> None:
    (changed,) = when(PROPOSED, SEND)
    assert isinstance(changed, ev.ReferralStatusChanged) and changed.answer_by == ANSWER_BY
    assert given(*sent()).referrals["ref-1"].answer_by == ANSWER_BY
    # control: a referral sent outside Haven has none
    (outside,) = when(
        PROPOSED, cmd.UpdateReferral(referral_id="ref-1", status="sent", changed_on=SENT_ON)
    )
    assert isinstance(outside, ev.ReferralStatusChanged) and outside.answer_by is None


def test_only_an_external_referral_being_sent_goes_to_an_inbox() -> None:
    internal = [OPENED, internal_referral_proposed()]
    with pytest.raises(err.InvalidValue):
        when(internal, SEND)
    with pytest.raises(err.InvalidValue):
        when(
            PROPOSED,
            cmd.UpdateReferral(
                referral_id="ref-1",
                status="revoked",
                changed_on=SENT_ON,
                reason="client_request",
                answer_days=14,
            ),
        )


@pytest.mark.parametrize("status", ["accepted", "declined", "expired"])
def test_attack_the_sender_types_in_the_recipients_answer(status: str) -> None:
    by_hand = cmd.UpdateReferral(
        referral_id="ref-1",
        status=status,
        changed_on=SENT_ON,
        reason="no_capacity" if status == "declined" else None,
    )
    with pytest.raises(err.AnsweredByRecipient):
        when(sent(), by_hand)
    # control: outside Haven the sender records the answer
    outside = [
        *PROPOSED,
        ev.ReferralStatusChanged(referral_id="ref-1", status="sent", changed_on=SENT_ON),
    ]
    assert when(outside, by_hand)[0].status == status  # type: ignore[attr-defined]


def test_the_recipient_answers_by_its_day_and_not_after() -> None:
    on_time = cmd.AnswerReferral(
        referral_id="ref-1", status="declined", answered_on=ANSWER_BY, reason="no_capacity"
    )
    (answer,) = when(sent(), on_time)
    state = then(given(*sent()), [answer])
    assert (state.referrals["ref-1"].status, state.referrals["ref-1"].reason) == (
        "declined",
        "no_capacity",
    )
    late = cmd.AnswerReferral(
        referral_id="ref-1", status="accepted", answered_on=ANSWER_BY + dt.timedelta(days=1)
    )
    with pytest.raises(err.ReferralOverdue):
        when(sent(), late)
    with pytest.raises(err.ReasonRequired):
        when(
            sent(), cmd.AnswerReferral(referral_id="ref-1", status="declined", answered_on=SENT_ON)
        )


def test_it_expires_by_rule_only_after_its_day() -> None:
    with pytest.raises(err.ReferralNotOverdue):
        when(sent(), cmd.ExpireReferral(referral_id="ref-1", expired_on=ANSWER_BY))
    (expired,) = when(
        sent(), cmd.ExpireReferral(referral_id="ref-1", expired_on=ANSWER_BY + dt.timedelta(days=1))
    )
    assert expired.status == "expired"  # type: ignore[attr-defined]
    # an answered referral no longer expires
    accepted = [
        *sent(),
        ev.ReferralStatusChanged(referral_id="ref-1", status="accepted", changed_on=SENT_ON),
    ]
    with pytest.raises(err.ReferralNotOpen):
        when(
            accepted,
            cmd.ExpireReferral(referral_id="ref-1", expired_on=ANSWER_BY + dt.timedelta(days=1)),
        )


def test_the_inbox_receives_only_the_released_categories() -> None:
    history = sent()
    state = given(*history)
    item = received(state, history[-1])  # type: ignore[arg-type]
    assert item.item_id == item_id(ORG, state.case_id or "", "ref-1")
    assert item.released_categories == ("contact", "identity") and item.answer_by == ANSWER_BY
    assert item.released.identity == state.identity and item.released.contact == state.contact
    # the canary: categories the consent did not release stay behind (the case holds them)
    assert None not in (state.trafficking, state.demographics, state.victim_status)
    assert item.released.trafficking is None and item.released.demographics is None
    assert item.released.victim_status is None and item.released.needs == ()

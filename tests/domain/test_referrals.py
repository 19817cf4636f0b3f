"""Referrals: ProposeReferral (internal / external, consent) and UpdateReferral
(the closed loop)."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.case import commands as cmd
from domain.case import errors as err
from domain.case import events as ev
from domain.case.invariants import problems
from domain.case.lifecycles import REFERRAL_OPEN, REFERRAL_REASON_LIST, REFERRAL_TRANSITIONS
from domain.codebook import CURRENT
from tests.domain.builders import (
    A_REASON,
    ORG,
    OTHER_PARTNER,
    PARTNER,
    consent_granted,
    consent_revoked,
    day,
    external_referral_proposed,
    given,
    internal_referral_proposed,
    opened_event,
    propose_external_referral,
    propose_internal_referral,
    referral_changed,
    referral_history,
    referral_path,
    then,
    when,
)

OPENED = opened_event()
CONSENT = consent_granted()  # consent-1: PARTNER, service_referral, contact + identity + needs
STATUSES = sorted(REFERRAL_TRANSITIONS)
TERMINAL = sorted(s for s in STATUSES if s not in REFERRAL_OPEN)


# -- internal referrals ----------------------------------------------------------------------


def test_an_internal_referral_needs_no_consent() -> None:
    assert when([OPENED], propose_internal_referral()) == [
        ev.ReferralProposed(
            referral_id="ref-1",
            kind="internal",
            category="mental_health",
            recipient="team-test-b",
            purpose="care_coordination",
            proposed_on=day(3, 1),
            consent_id=None,
            released_categories=(),
            notes=None,
        )
    ]


def test_an_internal_referral_that_releases_categories_is_refused() -> None:
    with pytest.raises(err.InvalidValue):
        when([OPENED, CONSENT], propose_internal_referral(released_categories=("identity",)))


def test_an_internal_referral_that_names_a_consent_is_refused() -> None:
    with pytest.raises(err.InvalidValue):
        when([OPENED, CONSENT], propose_internal_referral(consent_id="consent-1"))


# -- external referrals: consent -------------------------------------------------------------------


def test_an_external_referral_under_covering_consent_records_exactly_the_released_categories() -> (
    None
):
    command = propose_external_referral(released_categories=("identity", "contact", "identity"))

    assert when([OPENED, CONSENT], command) == [
        ev.ReferralProposed(
            referral_id="ref-1",
            kind="external",
            category="housing_shelter",
            recipient=PARTNER,
            purpose="service_referral",
            proposed_on=day(3, 1),
            consent_id="consent-1",
            released_categories=("contact", "identity"),
            notes="synthetic note",
        )
    ]


def test_an_external_referral_may_release_fewer_categories_than_the_consent() -> None:
    events = when([OPENED, CONSENT], propose_external_referral(released_categories=("needs",)))
    assert [e.released_categories for e in events] == [("needs",)]


def test_an_external_referral_without_a_consent_is_refused() -> None:
    with pytest.raises(err.ConsentRequired):
        when([OPENED, CONSENT], propose_external_referral(consent_id=None))


def test_an_external_referral_under_an_unknown_consent_is_refused() -> None:
    with pytest.raises(err.ConsentNotFound):
        when([OPENED, CONSENT], propose_external_referral(consent_id="consent-404"))


def test_an_external_referral_under_a_revoked_consent_is_refused() -> None:
    with pytest.raises(err.ConsentRevokedError):
        when([OPENED, CONSENT, consent_revoked(revoked_on=day(2, 15))], propose_external_referral())


def test_a_backdated_external_referral_under_an_already_revoked_consent_is_refused() -> None:
    """The attack: date the release before the recorded revocation to slip it through."""
    revoked_later = consent_revoked(revoked_on=day(3, 20))
    assert when([OPENED, CONSENT], propose_external_referral(proposed_on=day(3, 1)))  # control
    with pytest.raises(err.ConsentRevokedError):
        when([OPENED, CONSENT, revoked_later], propose_external_referral(proposed_on=day(3, 1)))


def test_an_external_referral_under_an_expired_consent_is_refused() -> None:
    with pytest.raises(err.ConsentExpired):
        when(
            [OPENED, consent_granted(expires_on=day(2, 28))],
            propose_external_referral(proposed_on=day(3, 1)),
        )


def test_an_external_referral_to_another_recipient_than_the_consent_names_is_refused() -> None:
    with pytest.raises(err.ConsentDoesNotCover):
        when([OPENED, CONSENT], propose_external_referral(recipient=OTHER_PARTNER))


def test_an_external_referral_for_another_purpose_than_the_consent_names_is_refused() -> None:
    with pytest.raises(err.ConsentDoesNotCover):
        when([OPENED, CONSENT], propose_external_referral(purpose="legal_representation"))


def test_an_external_referral_releasing_more_than_the_consent_covers_is_refused() -> None:
    with pytest.raises(err.ConsentDoesNotCover):
        when(
            [OPENED, CONSENT], propose_external_referral(released_categories=("identity", "health"))
        )


def test_an_external_referral_releasing_no_categories_is_refused() -> None:
    with pytest.raises(err.InvalidValue):
        when([OPENED, CONSENT], propose_external_referral(released_categories=()))


def test_an_external_referral_to_the_own_organisation_is_refused() -> None:
    own = consent_granted(recipient_organisation=ORG)
    with pytest.raises(err.InvalidValue):
        when([OPENED, own], propose_external_referral(recipient=ORG))


# -- ProposeReferral: other rules ----------------------------------------------------------------


def test_a_referral_id_already_used_is_refused() -> None:
    with pytest.raises(err.ReferralAlreadyExists):
        when(
            [OPENED, internal_referral_proposed()],
            propose_internal_referral(recipient="team-test-c"),
        )


def test_an_empty_referral_id_is_refused() -> None:
    with pytest.raises(err.InvalidValue):
        when([OPENED], propose_internal_referral(referral_id=""))


@pytest.mark.parametrize(
    "changes",
    [
        {"category": "spa_day"},
        {"purpose": "marketing"},
        {"released_categories": ("identity", "shoe_size")},
    ],
    ids=["category", "purpose", "released_category"],
)
def test_a_referral_with_an_unknown_code_is_refused(changes: dict) -> None:
    with pytest.raises(err.InvalidCode):
        when([OPENED, CONSENT], propose_external_referral(**changes))


def test_a_referral_of_an_unknown_kind_is_refused() -> None:
    with pytest.raises(err.InvalidValue):
        when([OPENED], propose_internal_referral(kind="sideways"))


def test_a_referral_without_a_recipient_is_refused() -> None:
    with pytest.raises(err.InvalidValue):
        when([OPENED], propose_internal_referral(recipient=""))


def test_a_referral_before_intake_is_refused() -> None:
    with pytest.raises(err.DateOutOfOrder):
        when([OPENED], propose_internal_referral(proposed_on=day(1, 4)))


def test_a_referral_in_the_future_is_refused() -> None:
    with pytest.raises(err.DateInFuture):
        when([OPENED], propose_internal_referral(proposed_on=day(9, 17)))


# -- UpdateReferral: the transition table, generated from the table itself ------------------------


def referral_at(status: str, kind: str = "internal") -> list[ev.DomainEvent]:
    """A case with referral ref-1 in `status`, reached along the table's shortest legal path."""
    proposed = internal_referral_proposed() if kind == "internal" else external_referral_proposed()
    return [OPENED, CONSENT, proposed, *referral_history("ref-1", status)]


def next_day(status: str) -> dt.date:
    return day(3, 1) + dt.timedelta(days=len(referral_path(status)))


LEGAL = [(a, b) for a in STATUSES for b in sorted(REFERRAL_TRANSITIONS[a])]
ILLEGAL = [
    (a, b)
    for a in sorted(REFERRAL_OPEN)
    for b in [*STATUSES, "not_a_status"]
    if b not in REFERRAL_TRANSITIONS[a]
]


def test_the_tables_cover_every_ordered_pair_of_statuses() -> None:
    pairs = (
        set(LEGAL)
        | {p for p in ILLEGAL if p[1] != "not_a_status"}
        | {(a, b) for a in TERMINAL for b in STATUSES}
    )
    assert pairs == {(a, b) for a in STATUSES for b in STATUSES}
    assert len(LEGAL) == 13


@pytest.mark.parametrize(("before", "after"), LEGAL, ids=[f"{a}->{b}" for a, b in LEGAL])
@pytest.mark.parametrize("kind", ["internal", "external"])
def test_every_legal_referral_transition_is_accepted(kind: str, before: str, after: str) -> None:
    command = cmd.UpdateReferral(
        referral_id="ref-1", status=after, changed_on=next_day(before), reason=A_REASON.get(after)
    )
    events = when(referral_at(before, kind), command)
    assert events == [referral_changed("ref-1", after, next_day(before), A_REASON.get(after))]
    assert problems(then(given(*referral_at(before, kind)), events)) == []


@pytest.mark.parametrize(("before", "after"), ILLEGAL, ids=[f"{a}->{b}" for a, b in ILLEGAL])
def test_every_illegal_referral_transition_is_refused(before: str, after: str) -> None:
    command = cmd.UpdateReferral(
        referral_id="ref-1", status=after, changed_on=next_day(before), reason=A_REASON.get(after)
    )
    with pytest.raises(err.IllegalReferralTransition):
        when(referral_at(before), command)


@pytest.mark.parametrize("before", TERMINAL)
@pytest.mark.parametrize("after", STATUSES)
def test_no_update_of_a_referral_in_a_terminal_status(before: str, after: str) -> None:
    command = cmd.UpdateReferral(
        referral_id="ref-1", status=after, changed_on=next_day(before), reason=A_REASON.get(after)
    )
    with pytest.raises(err.ReferralNotOpen):
        when(referral_at(before), command)


def test_updating_an_unknown_referral_is_refused() -> None:
    with pytest.raises(err.ReferralNotFound):
        when(
            referral_at("proposed"),
            cmd.UpdateReferral(referral_id="ref-9", status="sent", changed_on=day(3, 2)),
        )


@pytest.mark.parametrize("before", ["proposed", "sent"])
def test_a_referral_cannot_complete_before_it_was_accepted(before: str) -> None:
    with pytest.raises(err.IllegalReferralTransition):
        when(
            referral_at(before),
            cmd.UpdateReferral(
                referral_id="ref-1", status="completed", changed_on=next_day(before)
            ),
        )


# -- UpdateReferral: reasons -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("sent", "declined"),
        ("proposed", "revoked"),
        ("sent", "revoked"),
        ("accepted", "revoked"),
        ("in_progress", "revoked"),
    ],
)
def test_a_declined_or_revoked_referral_needs_a_reason(before: str, after: str) -> None:
    with pytest.raises(err.ReasonRequired):
        when(
            referral_at(before),
            cmd.UpdateReferral(
                referral_id="ref-1", status=after, changed_on=next_day(before), reason=None
            ),
        )


@pytest.mark.parametrize(
    ("before", "after", "reason"),
    [
        ("sent", "declined", "client_request"),  # a revoke reason, not a decline reason
        ("sent", "revoked", "no_capacity"),  # a decline reason, not a revoke reason
        ("sent", "declined", "felt_like_it"),
    ],
)
def test_a_reason_from_the_wrong_list_is_refused(before: str, after: str, reason: str) -> None:
    with pytest.raises(err.InvalidCode):
        when(
            referral_at(before),
            cmd.UpdateReferral(
                referral_id="ref-1", status=after, changed_on=next_day(before), reason=reason
            ),
        )


@pytest.mark.parametrize("status", ["declined", "revoked"])
def test_every_reason_of_the_right_list_is_accepted(status: str) -> None:
    for reason in sorted(CURRENT.codes(REFERRAL_REASON_LIST[status])):
        command = cmd.UpdateReferral(
            referral_id="ref-1", status=status, changed_on=day(3, 3), reason=reason
        )
        assert when(referral_at("sent"), command) == [
            referral_changed("ref-1", status, day(3, 3), reason)
        ]


@pytest.mark.parametrize(
    ("before", "after"), [(a, b) for a, b in LEGAL if b not in REFERRAL_REASON_LIST]
)
def test_a_reason_on_a_status_that_takes_none_is_refused(before: str, after: str) -> None:
    with pytest.raises(err.InvalidValue):
        when(
            referral_at(before),
            cmd.UpdateReferral(
                referral_id="ref-1", status=after, changed_on=next_day(before), reason="other"
            ),
        )


# -- UpdateReferral: dates ----------------------------------------------------------------------


def test_an_update_dated_before_the_previous_status_is_refused() -> None:
    # sent on 2 March; accepting it on 1 March is out of order.
    with pytest.raises(err.DateOutOfOrder):
        when(
            referral_at("sent"),
            cmd.UpdateReferral(referral_id="ref-1", status="accepted", changed_on=day(3, 1)),
        )


def test_an_update_on_the_same_day_as_the_previous_status_is_accepted() -> None:
    assert when(
        referral_at("sent"),
        cmd.UpdateReferral(referral_id="ref-1", status="accepted", changed_on=day(3, 2)),
    ) == [referral_changed("ref-1", "accepted", day(3, 2))]


def test_an_update_in_the_future_is_refused() -> None:
    with pytest.raises(err.DateInFuture):
        when(
            referral_at("sent"),
            cmd.UpdateReferral(referral_id="ref-1", status="accepted", changed_on=day(9, 17)),
        )


# -- sending an external referral re-checks the consent --------------------------------------------

SHORT_CONSENT = consent_granted(expires_on=day(3, 10))


def test_sending_an_external_referral_after_its_consent_expired_is_refused() -> None:
    story = [OPENED, SHORT_CONSENT, external_referral_proposed(proposed_on=day(3, 1))]
    with pytest.raises(err.ConsentExpired):
        when(story, cmd.UpdateReferral(referral_id="ref-1", status="sent", changed_on=day(3, 11)))


def test_sending_an_external_referral_on_the_last_day_of_its_consent_is_accepted() -> None:
    story = [OPENED, SHORT_CONSENT, external_referral_proposed(proposed_on=day(3, 1))]
    assert when(
        story, cmd.UpdateReferral(referral_id="ref-1", status="sent", changed_on=day(3, 10))
    ) == [referral_changed("ref-1", "sent", day(3, 10))]


def test_sending_an_internal_referral_checks_no_consent() -> None:
    story = [OPENED, internal_referral_proposed(proposed_on=day(3, 1))]
    assert when(
        story, cmd.UpdateReferral(referral_id="ref-1", status="sent", changed_on=day(9, 1))
    ) == [referral_changed("ref-1", "sent", day(9, 1))]


def test_accepting_an_external_referral_after_its_consent_expired_is_not_a_new_release() -> None:
    # Only sending releases data; the partner's answer may come after the consent ended.
    story = [
        OPENED,
        SHORT_CONSENT,
        external_referral_proposed(proposed_on=day(3, 1)),
        referral_changed("ref-1", "sent", day(3, 2)),
    ]
    assert when(
        story, cmd.UpdateReferral(referral_id="ref-1", status="accepted", changed_on=day(3, 20))
    ) == [referral_changed("ref-1", "accepted", day(3, 20))]

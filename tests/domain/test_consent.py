"""Consent: GrantConsent, RevokeConsent, RecordStatisticsConsent, and consent windows."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.case import commands as cmd
from domain.case import errors as err
from domain.case import events as ev
from domain.case.decide import decide
from domain.case.intake_rules import MAX_CONSENT_DAYS
from domain.case.invariants import problems
from tests.domain.builders import (
    ACTOR,
    FIXED_NOW,
    PARTNER,
    consent_granted,
    consent_revoked,
    day,
    external_referral_proposed,
    given,
    grant_consent_command,
    internal_referral_proposed,
    opened_event,
    propose_external_referral,
    referral_changed,
    referral_history,
    then,
    when,
)
from tests.domain.builders import context as make_context

OPENED = opened_event()


# -- GrantConsent ----------------------------------------------------------------------------


def test_grant_consent_records_the_release_with_categories_deduplicated_and_sorted() -> None:
    command = grant_consent_command(
        data_categories=("needs", "identity", "needs", "contact", "identity")
    )

    assert when([OPENED], command) == [
        ev.ConsentGranted(
            consent_id="consent-1",
            recipient_organisation=PARTNER,
            purpose="service_referral",
            data_categories=("contact", "identity", "needs"),
            starts_on=day(2, 1),
            expires_on=day(12, 31),
            signed_on=day(2, 1),
            signed_by="client",
            revocation_explained=True,
            written=True,
        )
    ]


def test_grant_consent_signed_by_a_guardian_is_accepted() -> None:
    command = grant_consent_command(signed_by="guardian")
    assert when([OPENED], command) == [consent_granted(signed_by="guardian")]


def test_grant_consent_signed_by_anyone_else_is_refused() -> None:
    with pytest.raises(err.InvalidValue):
        when([OPENED], grant_consent_command(signed_by="case_worker"))


def test_grant_consent_with_an_id_already_used_is_refused() -> None:
    with pytest.raises(err.ConsentAlreadyExists):
        when(
            [OPENED, consent_granted()],
            grant_consent_command(recipient_organisation="org-test-other"),
        )


def test_a_consent_to_no_recipient_is_refused() -> None:
    with pytest.raises(err.InvalidValue):
        when([OPENED], grant_consent_command(recipient_organisation=""))


def test_grant_consent_with_an_empty_id_is_refused() -> None:
    with pytest.raises(err.InvalidValue):
        when([OPENED], grant_consent_command(consent_id=""))


def test_grant_consent_for_an_unknown_purpose_is_refused() -> None:
    with pytest.raises(err.InvalidCode):
        when([OPENED], grant_consent_command(purpose="marketing"))


def test_grant_consent_for_an_unknown_data_category_is_refused() -> None:
    with pytest.raises(err.InvalidCode):
        when([OPENED], grant_consent_command(data_categories=("identity", "browsing_history")))


@pytest.mark.parametrize(
    "changes",
    [{"written": False}, {"revocation_explained": False}, {"data_categories": ()}],
    ids=["not_written", "revocation_not_explained", "no_categories"],
)
def test_grant_consent_that_is_not_a_valid_release_is_refused(changes: dict) -> None:
    with pytest.raises(err.ConsentNotValid):
        when([OPENED], grant_consent_command(**changes))


def test_grant_consent_expiring_before_it_starts_is_refused() -> None:
    with pytest.raises(err.DateOutOfOrder):
        when([OPENED], grant_consent_command(starts_on=day(3, 1), expires_on=day(2, 28)))


def test_grant_consent_expiring_the_day_it_starts_is_refused() -> None:
    with pytest.raises(err.DateOutOfOrder):
        when([OPENED], grant_consent_command(starts_on=day(3, 1), expires_on=day(3, 1)))


def test_grant_consent_for_more_than_366_days_is_refused() -> None:
    command = grant_consent_command(
        starts_on=day(2, 1), expires_on=day(2, 1) + dt.timedelta(days=MAX_CONSENT_DAYS + 1)
    )
    with pytest.raises(err.ConsentNotValid):
        when([OPENED], command)


def test_grant_consent_for_exactly_366_days_is_accepted() -> None:
    expires = day(2, 1) + dt.timedelta(days=MAX_CONSENT_DAYS)
    assert MAX_CONSENT_DAYS == 366
    assert when([OPENED], grant_consent_command(expires_on=expires)) == [
        consent_granted(expires_on=expires)
    ]


def test_grant_consent_starting_before_its_signature_is_refused() -> None:
    with pytest.raises(err.DateOutOfOrder):
        when([OPENED], grant_consent_command(signed_on=day(2, 2), starts_on=day(2, 1)))


def test_grant_consent_starting_after_its_signature_is_accepted() -> None:
    command = grant_consent_command(
        signed_on=day(9, 1), starts_on=day(10, 1), expires_on=day(12, 31)
    )
    assert when([OPENED], command) == [consent_granted(signed_on=day(9, 1), starts_on=day(10, 1))]


def test_grant_consent_signed_in_the_future_is_refused() -> None:
    command = grant_consent_command(
        signed_on=day(9, 17), starts_on=day(9, 17), expires_on=day(12, 31)
    )
    with pytest.raises(err.DateInFuture):
        when([OPENED], command)


def test_grant_consent_signed_on_the_latest_allowed_day_is_accepted() -> None:
    command = grant_consent_command(
        signed_on=day(9, 16), starts_on=day(9, 16), expires_on=day(12, 31)
    )
    assert when([OPENED], command) == [consent_granted(signed_on=day(9, 16), starts_on=day(9, 16))]


# -- RevokeConsent -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["written", "oral"])
def test_revoke_consent_records_the_revocation_by_the_acting_user(method: str) -> None:
    command = cmd.RevokeConsent(consent_id="consent-1", revoked_on=day(4, 1), method=method)
    events = when([OPENED, consent_granted()], command)
    assert events == [
        ev.ConsentRevoked(
            consent_id="consent-1", revoked_on=day(4, 1), method=method, recorded_by=ACTOR
        )
    ]


def test_the_revocation_is_recorded_by_whoever_acts_not_by_a_default() -> None:
    command = cmd.RevokeConsent(consent_id="consent-1", revoked_on=day(4, 1), method="oral")
    events = decide(given(OPENED, consent_granted()), command, make_context(actor_id="advocate-7"))
    assert [e.recorded_by for e in events] == ["advocate-7"]


def test_revoke_consent_by_an_unknown_method_is_refused() -> None:
    with pytest.raises(err.InvalidValue):
        when(
            [OPENED, consent_granted()],
            cmd.RevokeConsent(consent_id="consent-1", revoked_on=day(4, 1), method="telepathic"),
        )


def test_revoke_an_unknown_consent_is_refused() -> None:
    with pytest.raises(err.ConsentNotFound):
        when(
            [OPENED, consent_granted()],
            cmd.RevokeConsent(consent_id="consent-9", revoked_on=day(4, 1), method="oral"),
        )


def test_revoke_a_consent_already_revoked_is_refused() -> None:
    with pytest.raises(err.ConsentRevokedError):
        when(
            [OPENED, consent_granted(), consent_revoked()],
            cmd.RevokeConsent(consent_id="consent-1", revoked_on=day(4, 2), method="oral"),
        )


def test_revoke_a_consent_before_it_was_signed_is_refused() -> None:
    with pytest.raises(err.DateOutOfOrder):
        when(
            [OPENED, consent_granted(signed_on=day(2, 1))],
            cmd.RevokeConsent(consent_id="consent-1", revoked_on=day(1, 31), method="oral"),
        )


def test_revoke_a_consent_on_the_day_it_was_signed_is_accepted() -> None:
    events = when(
        [OPENED, consent_granted(signed_on=day(2, 1))],
        cmd.RevokeConsent(consent_id="consent-1", revoked_on=day(2, 1), method="oral"),
    )
    assert events == [consent_revoked(revoked_on=day(2, 1), method="oral")]


def test_revoke_a_consent_in_the_future_is_refused() -> None:
    with pytest.raises(err.DateInFuture):
        when(
            [OPENED, consent_granted()],
            cmd.RevokeConsent(consent_id="consent-1", revoked_on=day(9, 17), method="written"),
        )


def test_revoke_an_expired_consent_is_still_recorded() -> None:
    events = when(
        [OPENED, consent_granted(expires_on=day(3, 1))],
        cmd.RevokeConsent(consent_id="consent-1", revoked_on=day(4, 1), method="written"),
    )
    assert events == [consent_revoked(revoked_on=day(4, 1))]


def test_revoking_a_consent_ends_every_open_external_referral_relying_on_it_and_nothing_else() -> (
    None
):
    other = consent_granted(consent_id="consent-2", recipient_organisation=PARTNER)
    story = [
        OPENED,
        consent_granted(),
        other,
        external_referral_proposed(referral_id="ref-a-proposed"),
        external_referral_proposed(referral_id="ref-b-accepted"),
        *referral_history("ref-b-accepted", "accepted"),
        external_referral_proposed(referral_id="ref-c-in-progress"),
        *referral_history("ref-c-in-progress", "in_progress"),
        external_referral_proposed(referral_id="ref-d-completed"),
        *referral_history("ref-d-completed", "completed"),
        external_referral_proposed(referral_id="ref-e-declined"),
        *referral_history("ref-e-declined", "declined"),
        external_referral_proposed(referral_id="ref-f-expired"),
        *referral_history("ref-f-expired", "expired"),
        external_referral_proposed(referral_id="ref-g-other-consent", consent_id="consent-2"),
        internal_referral_proposed(referral_id="ref-h-internal"),
    ]
    state = given(*story)
    command = cmd.RevokeConsent(consent_id="consent-1", revoked_on=day(4, 1), method="oral")

    events = when(story, command)

    assert events == [
        consent_revoked(revoked_on=day(4, 1), method="oral"),
        referral_changed("ref-a-proposed", "revoked", day(4, 1), "consent_revoked"),
        referral_changed("ref-b-accepted", "revoked", day(4, 1), "consent_revoked"),
        referral_changed("ref-c-in-progress", "revoked", day(4, 1), "consent_revoked"),
    ]
    after = then(state, events)
    assert {rid: r.status for rid, r in after.referrals.items()} == {
        "ref-a-proposed": "revoked",
        "ref-b-accepted": "revoked",
        "ref-c-in-progress": "revoked",
        "ref-d-completed": "completed",
        "ref-e-declined": "declined",
        "ref-f-expired": "expired",
        "ref-g-other-consent": "proposed",
        "ref-h-internal": "proposed",
    }
    assert problems(after) == []


def test_a_revocation_recorded_late_ends_open_referrals_no_earlier_than_their_last_status() -> None:
    # The client revoked orally on 3 March; the worker learns of it after the referral was
    # accepted on 5 March. The revocation keeps its true date; the referral cannot end before
    # its own last status (its history would go back in time).
    story = [
        OPENED,
        consent_granted(),
        external_referral_proposed(proposed_on=day(3, 1)),
        referral_changed("ref-1", "sent", day(3, 2)),
        referral_changed("ref-1", "accepted", day(3, 5)),
    ]
    command = cmd.RevokeConsent(consent_id="consent-1", revoked_on=day(3, 3), method="oral")

    events = when(story, command)

    assert events == [
        consent_revoked(revoked_on=day(3, 3), method="oral"),
        referral_changed("ref-1", "revoked", day(3, 5), "consent_revoked"),
    ]
    assert problems(then(given(*story), events)) == []


# -- RecordStatisticsConsent -----------------------------------------------------------------------


@pytest.mark.parametrize("agrees", [True, False])
def test_record_statistics_consent(agrees: bool) -> None:
    command = cmd.RecordStatisticsConsent(agrees=agrees, recorded_on=day(2, 1))
    assert when([OPENED], command) == [
        ev.StatisticsConsentRecorded(agrees=agrees, recorded_on=day(2, 1))
    ]


def test_a_later_statistics_consent_replaces_the_earlier_one() -> None:
    state = given(
        OPENED,
        ev.StatisticsConsentRecorded(agrees=True, recorded_on=day(2, 1)),
        ev.StatisticsConsentRecorded(agrees=False, recorded_on=day(3, 1)),
    )
    assert state.statistics_consent is False


def test_record_statistics_consent_in_the_future_is_refused() -> None:
    with pytest.raises(err.DateInFuture):
        when([OPENED], cmd.RecordStatisticsConsent(agrees=True, recorded_on=day(9, 17)))


# -- consent windows and the injected clock ------------------------------------------------------

WINDOW = consent_granted(starts_on=day(3, 1), signed_on=day(2, 20), expires_on=day(6, 30))


def test_an_external_referral_on_the_day_after_expiry_is_refused() -> None:
    with pytest.raises(err.ConsentExpired):
        when([OPENED, WINDOW], propose_external_referral(proposed_on=day(7, 1)))


def test_an_external_referral_on_the_last_day_of_the_consent_is_accepted() -> None:
    assert when([OPENED, WINDOW], propose_external_referral(proposed_on=day(6, 30))) == [
        external_referral_proposed(proposed_on=day(6, 30))
    ]


def test_an_external_referral_on_the_first_day_of_the_consent_is_accepted() -> None:
    assert when([OPENED, WINDOW], propose_external_referral(proposed_on=day(3, 1))) == [
        external_referral_proposed(proposed_on=day(3, 1))
    ]


def test_an_external_referral_before_the_consent_starts_is_refused() -> None:
    # Signed on 20 February but in force from 1 March only.
    with pytest.raises(err.ConsentExpired):
        when([OPENED, WINDOW], propose_external_referral(proposed_on=day(2, 28)))


def test_the_consent_window_is_judged_on_the_referral_date_under_the_injected_clock() -> None:
    # A consent for September only, referred on the (fixed) today: in force, whatever the
    # machine's own clock says.
    september = consent_granted(signed_on=day(9, 1), starts_on=day(9, 1), expires_on=day(9, 30))
    assert when(
        [OPENED, september], propose_external_referral(proposed_on=day(9, 15)), now=FIXED_NOW
    ) == [external_referral_proposed(proposed_on=day(9, 15))]


def test_a_referral_dated_after_the_injected_today_is_refused_even_within_the_consent() -> None:
    september = consent_granted(signed_on=day(9, 1), starts_on=day(9, 1), expires_on=day(9, 30))
    earlier_clock = dt.datetime(2026, 9, 10, 12, 0, tzinfo=dt.UTC)
    with pytest.raises(err.DateInFuture):
        when(
            [OPENED, september],
            propose_external_referral(proposed_on=day(9, 15)),
            now=earlier_clock,
        )


def test_a_consent_is_not_in_force_on_the_day_it_is_revoked() -> None:
    with pytest.raises(err.ConsentRevokedError):
        when(
            [OPENED, consent_granted(), consent_revoked(revoked_on=day(4, 1))],
            propose_external_referral(proposed_on=day(4, 1)),
        )


def test_a_consent_is_in_force_the_day_before_it_is_revoked() -> None:
    # Revocation takes effect on its own date: in force on 31 March, not on 1 April.
    state = [OPENED, consent_granted(), consent_revoked(revoked_on=day(4, 1))]
    assert given(*state).consents["consent-1"].active_on(day(3, 31))
    assert not given(*state).consents["consent-1"].active_on(day(4, 1))

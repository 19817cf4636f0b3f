"""Assignment, transfer, closure and reopening: AssignCase, TransferCase (and `receiving_case`),
CloseCase, ReopenCase."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.case import commands as cmd
from domain.case import errors as err
from domain.case import events as ev
from domain.case.closure_rules import receiving_case
from domain.case.decide import decide
from domain.case.invariants import problems
from tests.domain.builders import (
    ORG,
    OTHER_PARTNER,
    PARTNER,
    TEAM,
    WORKER,
    a_victim_status,
    an_adult,
    an_intake,
    case_closed,
    close_case_command,
    consent_granted,
    consent_revoked,
    context,
    day,
    external_referral_proposed,
    given,
    internal_referral_proposed,
    one_of_each_command,
    open_case_command,
    opened_event,
    opened_minor,
    referral_history,
    step_recorded,
    then,
    transfer_command,
    transfer_consent,
    when,
)

OPENED = opened_event()
TRANSFER_CONSENT = (
    transfer_consent()
)  # consent-transfer: PARTNER, case_transfer, contact + identity + needs


# -- AssignCase ---------------------------------------------------------------------------------


def test_assign_case_records_the_new_worker_and_team() -> None:
    command = cmd.AssignCase(worker_id="worker-2", team_id="team-test-b", assigned_on=day(2, 1))
    events = when([OPENED], command)
    assert events == [
        ev.CaseAssigned(worker_id="worker-2", team_id="team-test-b", assigned_on=day(2, 1))
    ]
    state = then(given(OPENED), events)
    assert (state.worker_id, state.team_id) == ("worker-2", "team-test-b")


def test_assigning_the_case_to_its_current_worker_and_team_is_refused() -> None:
    with pytest.raises(err.AlreadyAssigned):
        when([OPENED], cmd.AssignCase(worker_id=WORKER, team_id=TEAM, assigned_on=day(2, 1)))


def test_assigning_the_same_worker_to_another_team_is_accepted() -> None:
    assert when(
        [OPENED], cmd.AssignCase(worker_id=WORKER, team_id="team-test-b", assigned_on=day(2, 1))
    ) == [ev.CaseAssigned(worker_id=WORKER, team_id="team-test-b", assigned_on=day(2, 1))]


@pytest.mark.parametrize(("worker", "team"), [("", TEAM), ("worker-2", "")])
def test_an_assignment_without_a_worker_or_team_is_refused(worker: str, team: str) -> None:
    with pytest.raises(err.InvalidValue):
        when([OPENED], cmd.AssignCase(worker_id=worker, team_id=team, assigned_on=day(2, 1)))


def test_an_assignment_in_the_future_is_refused() -> None:
    with pytest.raises(err.DateInFuture):
        when([OPENED], cmd.AssignCase(worker_id="worker-2", team_id=TEAM, assigned_on=day(9, 17)))


# -- TransferCase ----------------------------------------------------------------------------------


def test_transfer_releases_the_consents_categories_and_closes_the_case_as_transferred() -> None:
    events = when([OPENED, TRANSFER_CONSENT], transfer_command())
    assert events == [
        ev.CaseTransferred(
            recipient_organisation=PARTNER,
            consent_id="consent-transfer",
            released_categories=("contact", "identity", "needs"),
            transferred_on=day(5, 1),
            receiving_case_id="case-test-0002",
        ),
        ev.CaseClosed(
            closed_on=day(5, 1),
            reason="transferred",
            living_situation="shelter",
            obtained_continued_presence=False,
            obtained_t_visa=False,
            obtained_hhs_letter=False,
            referred_for_case_management=True,
        ),
    ]
    assert problems(then(given(OPENED, TRANSFER_CONSENT), events)) == []


def test_transfer_closure_records_the_milestones_obtained() -> None:
    story = [
        OPENED,
        TRANSFER_CONSENT,
        step_recorded("cp-1", "continued_presence", "requested", day(2, 1)),
        step_recorded("cp-1", "continued_presence", "granted", day(3, 1)),
    ]
    closed = when(story, transfer_command())[1]
    assert (
        closed.obtained_continued_presence,
        closed.obtained_t_visa,
        closed.obtained_hhs_letter,
    ) == (True, False, False)


def test_transfer_under_an_unknown_consent_is_refused() -> None:
    with pytest.raises(err.ConsentNotFound):
        when([OPENED, TRANSFER_CONSENT], transfer_command(consent_id="consent-404"))


def test_transfer_without_any_consent_is_refused() -> None:
    with pytest.raises(err.ConsentNotFound):
        when([OPENED], transfer_command())


def test_transfer_under_an_expired_consent_is_refused() -> None:
    with pytest.raises(err.ConsentExpired):
        when(
            [OPENED, transfer_consent(expires_on=day(4, 30))],
            transfer_command(transferred_on=day(5, 1)),
        )


def test_transfer_under_a_revoked_consent_is_refused() -> None:
    story = [OPENED, TRANSFER_CONSENT, consent_revoked("consent-transfer", revoked_on=day(4, 1))]
    with pytest.raises(err.ConsentRevokedError):
        when(story, transfer_command())


def test_transfer_to_another_recipient_than_the_consent_names_is_refused() -> None:
    with pytest.raises(err.ConsentDoesNotCover):
        when([OPENED, TRANSFER_CONSENT], transfer_command(recipient_organisation=OTHER_PARTNER))


def test_transfer_under_a_consent_for_another_purpose_is_refused() -> None:
    story = [OPENED, consent_granted(consent_id="consent-transfer", purpose="service_referral")]
    with pytest.raises(err.ConsentDoesNotCover):
        when(story, transfer_command())


def test_transfer_to_the_own_organisation_is_refused() -> None:
    story = [OPENED, transfer_consent(recipient_organisation=ORG)]
    with pytest.raises(err.InvalidValue):
        when(story, transfer_command(recipient_organisation=ORG))


def test_transfer_with_an_unknown_living_situation_is_refused() -> None:
    with pytest.raises(err.InvalidCode):
        when([OPENED, TRANSFER_CONSENT], transfer_command(living_situation="castle"))


def test_transfer_in_the_future_is_refused() -> None:
    with pytest.raises(err.DateInFuture):
        when([OPENED, TRANSFER_CONSENT], transfer_command(transferred_on=day(9, 17)))


@pytest.mark.parametrize("status", ["proposed", "sent", "accepted", "in_progress"])
def test_an_open_referral_blocks_the_transfer(status: str) -> None:
    story = [
        OPENED,
        TRANSFER_CONSENT,
        internal_referral_proposed(),
        *referral_history("ref-1", status),
    ]
    with pytest.raises(err.OpenReferralsOnClosure):
        when(story, transfer_command())


def test_a_closed_referral_does_not_block_the_transfer() -> None:
    story = [
        OPENED,
        TRANSFER_CONSENT,
        internal_referral_proposed(),
        *referral_history("ref-1", "completed"),
    ]
    assert [type(e) for e in when(story, transfer_command())] == [ev.CaseTransferred, ev.CaseClosed]


def test_transfer_dated_before_the_current_enrolment_is_refused() -> None:
    # Closed in June, reopened on 1 August: a transfer dated in July would close the case
    # before its current enrolment began.
    story = [
        OPENED,
        TRANSFER_CONSENT,
        case_closed(closed_on=day(6, 1)),
        ev.CaseReopened(reopened_on=day(8, 1)),
    ]
    with pytest.raises(err.DateOutOfOrder):
        when(story, transfer_command(transferred_on=day(7, 1)))


def test_transfer_on_the_day_of_reopening_is_accepted() -> None:
    story = [
        OPENED,
        TRANSFER_CONSENT,
        case_closed(closed_on=day(6, 1)),
        ev.CaseReopened(reopened_on=day(8, 1)),
    ]
    events = when(story, transfer_command(transferred_on=day(8, 1)))
    assert [type(e) for e in events] == [ev.CaseTransferred, ev.CaseClosed]
    assert problems(then(given(*story), events)) == []


# -- receiving_case --------------------------------------------------------------------------------


def receiving(
    categories: tuple[str, ...], opened: ev.CaseOpened = OPENED, transferred_on: dt.date = day(5, 1)
) -> ev.CaseOpened:
    state = given(opened, transfer_consent(data_categories=categories))
    command = transfer_command(transferred_on=transferred_on)
    transferred = decide(state, command, context())[0]
    assert isinstance(transferred, ev.CaseTransferred)
    return receiving_case(state, transferred, command)


def test_the_receiving_case_holds_only_identity_and_contact_when_only_those_are_released() -> None:
    opened = receiving(("identity", "contact"))
    assert opened.identity == OPENED.identity
    assert opened.contact == OPENED.contact
    assert (opened.demographics, opened.trafficking, opened.victim_status) == (None, None, None)


def test_the_receiving_case_holds_no_identity_when_identity_is_not_released() -> None:
    opened = receiving(("demographics", "trafficking"))
    assert (opened.identity, opened.contact) == (None, None)
    assert opened.demographics == OPENED.demographics
    assert opened.trafficking == OPENED.trafficking
    assert opened.victim_status == OPENED.victim_status  # victim status travels with 'trafficking'


def test_the_receiving_case_holds_everything_when_everything_is_released() -> None:
    opened = receiving(("identity", "contact", "demographics", "trafficking"))
    assert (
        opened.identity,
        opened.contact,
        opened.demographics,
        opened.trafficking,
        opened.victim_status,
    ) == (
        OPENED.identity,
        OPENED.contact,
        OPENED.demographics,
        OPENED.trafficking,
        OPENED.victim_status,
    )


def test_the_receiving_case_is_a_new_transferred_in_case_at_the_recipient() -> None:
    opened = receiving(("needs",))
    assert opened.transferred_in is True
    assert (opened.case_id, opened.organisation_id) == ("case-test-0002", PARTNER)
    assert (opened.worker_id, opened.team_id) == ("partner-worker-1", "partner-team-1")
    assert (
        opened.intake.intake_on,
        opened.intake.intake_type,
        opened.intake.referral_on,
        opened.intake.referral_source,
    ) == (day(5, 1), "transfer", day(5, 1), "ngo")
    assert (
        opened.identity,
        opened.contact,
        opened.demographics,
        opened.trafficking,
        opened.victim_status,
    ) == (None, None, None, None, None)
    assert problems(given(opened)) == []


def test_the_receiving_case_carries_the_clients_age_on_the_transfer_date() -> None:
    # Age 17 at intake (January 2026, no date of birth), transferred two years later: the
    # receiving case's intake is the transfer date, so its age at intake is 19, not 17.
    opened17 = opened_event(
        identity=an_adult(date_of_birth=None), intake=an_intake(age_at_intake=17)
    )
    late = dt.datetime(2028, 3, 1, 12, 0, tzinfo=dt.UTC)
    state = given(
        opened17,
        transfer_consent(
            data_categories=("needs", "demographics"),
            starts_on=day(1, 20, 2028),
            signed_on=day(1, 20, 2028),
            expires_on=day(6, 1, 2028),
        ),
    )
    command = transfer_command(transferred_on=day(2, 1, 2028))
    transferred = decide(state, command, context(now=late))[0]
    received = given(receiving_case(state, transferred, command))
    assert received.intake.age_at_intake == 19
    assert received.age_on(day(2, 1, 2028)) == state.age_on(day(2, 1, 2028)) == 19


def test_the_receiving_case_learns_no_age_or_household_without_demographics_released() -> None:
    released = receiving(("demographics",))
    assert released.intake.age_at_intake is not None  # control
    opened = receiving(("needs",))
    assert opened.intake.age_at_intake is None
    assert opened.intake.family_served.total() == 0
    assert (opened.intake.eligibility_status, opened.intake.matched_within_48h) == ("pending", None)


# -- CloseCase -------------------------------------------------------------------------------------


def test_close_case_records_the_closure() -> None:
    command = close_case_command(
        closed_on=day(6, 1),
        reason="client_request",
        living_situation="with_family_friends",
        referred_for_case_management=True,
    )
    assert when([OPENED], command) == [
        ev.CaseClosed(
            closed_on=day(6, 1),
            reason="client_request",
            living_situation="with_family_friends",
            obtained_continued_presence=False,
            obtained_t_visa=False,
            obtained_hhs_letter=False,
            referred_for_case_management=True,
        )
    ]


OBTAINED = [
    step_recorded("cp-1", "continued_presence", "requested", day(2, 1)),
    step_recorded("cp-1", "continued_presence", "granted", day(2, 10)),
    step_recorded("cp-1", "continued_presence", "expired", day(4, 10)),  # once granted, counts
    step_recorded("tv-1", "t_visa", "filed", day(2, 1)),
    step_recorded("tv-1", "t_visa", "approved", day(4, 1)),
    step_recorded("hc-1", "hhs_certification", "requested", day(2, 1)),
    step_recorded("hc-1", "hhs_certification", "issued", day(2, 20)),
]


def test_close_case_derives_the_obtained_flags_from_the_recorded_milestones() -> None:
    # The command claims nothing; the milestones say what was obtained.
    events = when([OPENED, *OBTAINED], close_case_command())
    assert events == [
        case_closed(
            obtained_continued_presence=True, obtained_t_visa=True, obtained_hhs_letter=True
        )
    ]


def test_close_case_accepts_claims_the_milestones_support() -> None:
    command = close_case_command(
        obtained_continued_presence=True, obtained_t_visa=True, obtained_hhs_letter=True
    )
    assert when([OPENED, *OBTAINED], command) == [
        case_closed(
            obtained_continued_presence=True, obtained_t_visa=True, obtained_hhs_letter=True
        )
    ]


@pytest.mark.parametrize(
    "claim", ["obtained_continued_presence", "obtained_t_visa", "obtained_hhs_letter"]
)
def test_claiming_an_obtained_milestone_that_is_not_recorded_is_refused(claim: str) -> None:
    with pytest.raises(err.InvalidValue):
        when([OPENED], close_case_command(**{claim: True}))


@pytest.mark.parametrize(
    ("claim", "milestones"),
    [
        ("obtained_t_visa", [step_recorded("tv-1", "t_visa", "filed", day(2, 1))]),
        (
            "obtained_continued_presence",
            [
                step_recorded("cp-1", "continued_presence", "requested", day(2, 1)),
                step_recorded("cp-1", "continued_presence", "denied", day(3, 1)),
            ],
        ),
        (
            "obtained_hhs_letter",
            [step_recorded("hc-1", "hhs_certification", "requested", day(2, 1))],
        ),
        (
            "obtained_t_visa",
            [
                step_recorded("uv-1", "u_visa", "filed", day(2, 1)),
                step_recorded("uv-1", "u_visa", "approved", day(3, 1)),
            ],
        ),
    ],
    ids=[
        "t_visa_only_filed",
        "continued_presence_denied",
        "hhs_only_requested",
        "u_visa_is_not_a_t_visa",
    ],
)
def test_claiming_an_obtained_milestone_that_was_not_obtained_is_refused(
    claim: str, milestones: list
) -> None:
    with pytest.raises(err.InvalidValue):
        when([OPENED, *milestones], close_case_command(**{claim: True}))


def test_an_interim_eligibility_letter_counts_as_an_hhs_letter() -> None:
    story = [
        opened_minor(),
        step_recorded("he-1", "hhs_eligibility", "requested", day(2, 1)),
        step_recorded("he-1", "hhs_eligibility", "interim_issued", day(2, 5)),
    ]
    assert when(story, close_case_command(obtained_hhs_letter=True)) == [
        case_closed(obtained_hhs_letter=True)
    ]


def test_closing_as_transferred_by_close_case_is_refused() -> None:
    with pytest.raises(err.InvalidValue):
        when([OPENED], close_case_command(reason="transferred"))


@pytest.mark.parametrize("changes", [{"reason": "vanished"}, {"living_situation": "castle"}])
def test_closing_with_an_unknown_code_is_refused(changes: dict) -> None:
    with pytest.raises(err.InvalidCode):
        when([OPENED], close_case_command(**changes))


def test_closing_before_the_intake_is_refused() -> None:
    with pytest.raises(err.DateOutOfOrder):
        when([OPENED], close_case_command(closed_on=day(1, 4)))


def test_closing_before_the_current_enrolment_is_refused() -> None:
    story = [OPENED, case_closed(closed_on=day(3, 1)), ev.CaseReopened(reopened_on=day(5, 1))]
    with pytest.raises(err.DateOutOfOrder):
        when(story, close_case_command(closed_on=day(4, 1)))


def test_closing_in_the_future_is_refused() -> None:
    with pytest.raises(err.DateInFuture):
        when([OPENED], close_case_command(closed_on=day(9, 17)))


@pytest.mark.parametrize("status", ["proposed", "sent", "accepted", "in_progress"])
def test_an_open_referral_blocks_closure(status: str) -> None:
    story = [
        OPENED,
        consent_granted(),
        external_referral_proposed(),
        *referral_history("ref-1", status),
    ]
    with pytest.raises(err.OpenReferralsOnClosure):
        when(story, close_case_command())


@pytest.mark.parametrize("status", ["declined", "completed", "revoked", "expired"])
def test_a_closed_referral_does_not_block_closure(status: str) -> None:
    story = [OPENED, internal_referral_proposed(), *referral_history("ref-1", status)]
    assert when(story, close_case_command()) == [case_closed()]


# -- a closed case ------------------------------------------------------------------------------

CLOSED = [
    OPENED,
    consent_granted(),
    ev.GoalSet(
        goal_id="goal-1", category="employment", description="synthetic goal", set_on=day(2, 1)
    ),
    internal_referral_proposed(),
    *referral_history("ref-1", "completed"),
    TRANSFER_CONSENT,
    case_closed(closed_on=day(6, 1)),
]
ALLOWED_AFTER_CLOSURE = (
    cmd.RevokeConsent,
    cmd.RecordStatisticsConsent,
    cmd.DeclineTransfer,
)  # a late answer
ON_A_CLOSED_CASE = [
    c
    for t, c in one_of_each_command().items()
    if t not in (cmd.OpenCase, cmd.ReopenCase, *ALLOWED_AFTER_CLOSURE)
]


def test_the_closed_case_fixture_is_closed_and_valid() -> None:
    state = given(*CLOSED)
    assert state.is_closed and problems(state) == []


@pytest.mark.parametrize("command", ON_A_CLOSED_CASE, ids=lambda c: type(c).__name__)
def test_every_command_on_a_closed_case_is_refused(command: cmd.Command) -> None:
    with pytest.raises(err.CaseClosed):
        when(CLOSED, command)


def test_a_client_may_revoke_consent_after_closure() -> None:
    events = when(
        CLOSED,
        cmd.RevokeConsent(
            consent_id=TRANSFER_CONSENT.consent_id, revoked_on=day(7, 1), method="oral"
        ),
    )
    assert [type(e) for e in events] == [ev.ConsentRevoked]


def test_a_client_may_withdraw_from_statistics_after_closure() -> None:
    events = when(CLOSED, cmd.RecordStatisticsConsent(agrees=False, recorded_on=day(7, 1)))
    assert events == [ev.StatisticsConsentRecorded(agrees=False, recorded_on=day(7, 1))]


def test_opening_a_closed_case_again_is_refused_as_already_open() -> None:
    with pytest.raises(err.CaseAlreadyOpen):
        when(CLOSED, open_case_command())


# -- ReopenCase ------------------------------------------------------------------------------------


def test_reopen_records_the_reopening() -> None:
    assert when(CLOSED, cmd.ReopenCase(reopened_on=day(7, 1), reason="synthetic reason")) == [
        ev.CaseReopened(reopened_on=day(7, 1), reason="synthetic reason")
    ]


def test_reopening_an_open_case_is_refused() -> None:
    with pytest.raises(err.CaseNotClosed):
        when([OPENED], cmd.ReopenCase(reopened_on=day(7, 1)))


def test_reopening_before_the_closure_date_is_refused() -> None:
    with pytest.raises(err.DateOutOfOrder):
        when(CLOSED, cmd.ReopenCase(reopened_on=day(5, 31)))


def test_reopening_on_the_closure_date_is_accepted() -> None:
    assert when(CLOSED, cmd.ReopenCase(reopened_on=day(6, 1))) == [
        ev.CaseReopened(reopened_on=day(6, 1))
    ]


def test_reopening_in_the_future_is_refused() -> None:
    with pytest.raises(err.DateInFuture):
        when(CLOSED, cmd.ReopenCase(reopened_on=day(9, 17)))


def test_reopening_a_transferred_case_is_refused() -> None:
    story = [OPENED, TRANSFER_CONSENT]
    story += when(story, transfer_command())
    with pytest.raises(err.CaseClosed):
        when(story, cmd.ReopenCase(reopened_on=day(7, 1)))


def test_reopening_counts_a_new_enrolment_from_the_reopening_date() -> None:
    before = given(*CLOSED)
    assert (before.enrolments, before.enrolled_on) == (1, day(1, 5))

    once = then(before, when(CLOSED, cmd.ReopenCase(reopened_on=day(7, 1))))
    assert (once.enrolments, once.enrolled_on, once.is_closed) == (2, day(7, 1), False)

    closed_again = then(once, decide(once, close_case_command(closed_on=day(8, 1)), context()))
    twice = then(
        closed_again, decide(closed_again, cmd.ReopenCase(reopened_on=day(9, 1)), context())
    )
    assert (twice.enrolments, twice.enrolled_on, twice.is_closed) == (3, day(9, 1), False)
    assert problems(twice) == []


def test_a_reopened_case_accepts_commands_again() -> None:
    story = [*CLOSED, ev.CaseReopened(reopened_on=day(7, 1))]
    assert when(
        story, cmd.DetermineVictimStatus(victim_status=a_victim_status(status="confirmed"))
    ) == [ev.VictimStatusDetermined(victim_status=a_victim_status(status="confirmed"))]


def test_work_dated_while_the_case_was_closed_is_refused_after_a_reopening() -> None:
    story = [OPENED, case_closed(closed_on=day(3, 1)), ev.CaseReopened(reopened_on=day(5, 1))]
    in_new_enrolment = cmd.RecordService(
        service_id="svc-1", category="medical", delivered_on=day(5, 2)
    )
    assert when(story, in_new_enrolment)  # control
    with pytest.raises(err.DateOutOfOrder):
        when(
            story, cmd.RecordService(service_id="svc-2", category="medical", delivered_on=day(4, 1))
        )

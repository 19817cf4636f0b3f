"""A transfer is a request the receiving organisation answers: RequestTransfer, DeclineTransfer,
and TransferCase (carried out when the recipient accepts). Asking releases nothing and leaves
the case where it is; only the accepted request closes it here and opens it there."""

from __future__ import annotations

import pytest

from domain.case import commands as cmd
from domain.case import errors as err
from domain.case import events as ev
from tests.domain.builders import (
    PARTNER,
    consent_revoked,
    day,
    given,
    opened_event,
    request_transfer_command,
    then,
    transfer_command,
    transfer_consent,
    when,
)

OPENED, CONSENT = opened_event(), transfer_consent()
REQUESTED = ev.TransferRequested(
    transfer_id="case-test-0002",
    recipient_organisation=PARTNER,
    consent_id="consent-transfer",
    requested_on=day(5, 1),
    receiving_worker_id="partner-worker-1",
    receiving_team_id="partner-team-1",
    living_situation="shelter",
)


def test_a_request_releases_nothing_and_leaves_the_case_open() -> None:
    events = when([OPENED, CONSENT], request_transfer_command())
    assert events == [REQUESTED]
    state = then(given(OPENED, CONSENT), events)
    assert state.pending_transfer == REQUESTED and not state.is_closed and state.transfer is None


def test_a_request_needs_the_same_consent_as_the_transfer() -> None:
    with pytest.raises(err.ConsentNotFound):
        when([OPENED], request_transfer_command())


def test_a_second_request_waits_for_the_answer_to_the_first() -> None:
    with pytest.raises(err.TransferPending):
        when([OPENED, CONSENT, REQUESTED], request_transfer_command(transfer_id="case-test-0003"))


def test_a_declined_request_leaves_the_case_here_and_may_be_asked_again() -> None:
    declined = when(
        [OPENED, CONSENT, REQUESTED],
        cmd.DeclineTransfer(
            transfer_id="case-test-0002", declined_on=day(5, 2), reason="no capacity"
        ),
    )
    assert declined == [
        ev.TransferDeclined(
            transfer_id="case-test-0002", declined_on=day(5, 2), reason="no capacity"
        )
    ]
    state = then(given(OPENED, CONSENT, REQUESTED), declined)
    assert state.pending_transfer is None and not state.is_closed
    assert when(
        [OPENED, CONSENT, REQUESTED, *declined],
        request_transfer_command(transfer_id="case-test-0003"),
    )


def test_only_the_pending_request_can_be_declined() -> None:
    with pytest.raises(err.TransferNotFound):
        when(
            [OPENED, CONSENT, REQUESTED],
            cmd.DeclineTransfer(transfer_id="case-other", declined_on=day(5, 2)),
        )
    with pytest.raises(err.TransferNotFound):  # nothing asked
        when(
            [OPENED, CONSENT],
            cmd.DeclineTransfer(transfer_id="case-test-0002", declined_on=day(5, 2)),
        )


def test_the_accepted_request_is_carried_out_and_cleared() -> None:
    events = when([OPENED, CONSENT, REQUESTED], transfer_command(transferred_on=day(5, 3)))
    assert [type(e) for e in events] == [ev.CaseTransferred, ev.CaseClosed]
    state = then(given(OPENED, CONSENT, REQUESTED), events)
    assert state.pending_transfer is None and state.is_closed


def test_while_a_request_waits_no_other_transfer_is_carried_out() -> None:
    with pytest.raises(err.TransferPending):
        when([OPENED, CONSENT, REQUESTED], transfer_command(receiving_case_id="case-elsewhere"))


def test_the_consent_is_checked_again_when_the_request_is_accepted() -> None:
    revoked = consent_revoked("consent-transfer", revoked_on=day(5, 2))
    with pytest.raises(err.ConsentRevokedError):
        when([OPENED, CONSENT, REQUESTED, revoked], transfer_command(transferred_on=day(5, 3)))

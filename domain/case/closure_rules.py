"""The rules of a case's assignment, transfer to another organisation, closure and reopening."""

from __future__ import annotations

import datetime as dt

from domain.case import commands as cmd
from domain.case import errors as err
from domain.case import events as ev
from domain.case.checks import Context, not_before, not_future, require_codes
from domain.case.intake_rules import require_consent
from domain.case.lifecycles import OBTAINED_STEPS
from domain.case.state import CaseState
from domain.case.values import FamilyServed, Intake
from domain.event import DomainEvent


def assign(state: CaseState, c: cmd.AssignCase, context: Context) -> list[DomainEvent]:
    if (c.worker_id, c.team_id) == (state.worker_id, state.team_id):
        raise err.AlreadyAssigned("the case is already assigned to that worker and team")
    not_future(context, c.assigned_on, "the assignment")
    return [ev.CaseAssigned(worker_id=c.worker_id, team_id=c.team_id, assigned_on=c.assigned_on)]


def _transfer_allowed(
    state: CaseState,
    context: Context,
    recipient: str,
    consent_id: str,
    living_situation: str,
    on: dt.date,
) -> tuple[str, ...]:
    """The checks of a transfer, asked for or carried out on `on`; the released categories."""
    if recipient == state.organisation_id:
        raise err.InvalidValue("a transfer goes to another organisation; reassign within one")
    consent = state.consents.get(consent_id)
    categories = consent.granted.data_categories if consent else ()
    require_consent(
        state,
        consent_id,
        recipient=recipient,
        purpose="case_transfer",
        categories=categories,
        on=on,
    )
    require_codes(context, "living_situation", living_situation)
    not_future(context, on, "the transfer")
    not_before(on, state.enrolled_on, "the transfer", "the start of enrolment")
    _no_open_referrals(state)
    return categories


def request_transfer(
    state: CaseState, c: cmd.RequestTransfer, context: Context
) -> list[DomainEvent]:
    if state.pending_transfer is not None:
        raise err.TransferPending(
            "a transfer of this case is already waiting for its recipient's answer"
        )
    _transfer_allowed(
        state, context, c.recipient_organisation, c.consent_id, c.living_situation, c.requested_on
    )
    return [
        ev.TransferRequested(
            transfer_id=c.transfer_id,
            recipient_organisation=c.recipient_organisation,
            consent_id=c.consent_id,
            requested_on=c.requested_on,
            receiving_worker_id=c.receiving_worker_id,
            receiving_team_id=c.receiving_team_id,
            living_situation=c.living_situation,
        )
    ]


def decline_transfer(
    state: CaseState, c: cmd.DeclineTransfer, context: Context
) -> list[DomainEvent]:
    pending = state.pending_transfer
    if pending is None or pending.transfer_id != c.transfer_id:
        raise err.TransferNotFound("no such transfer is waiting for an answer")
    not_future(context, c.declined_on, "the answer")
    not_before(c.declined_on, pending.requested_on, "the answer", "the request")
    return [
        ev.TransferDeclined(transfer_id=c.transfer_id, declined_on=c.declined_on, reason=c.reason)
    ]


def transfer(state: CaseState, c: cmd.TransferCase, context: Context) -> list[DomainEvent]:
    pending = state.pending_transfer
    if pending is not None and (
        pending.transfer_id,
        pending.recipient_organisation,
        pending.consent_id,
    ) != (c.receiving_case_id, c.recipient_organisation, c.consent_id):
        raise err.TransferPending(
            "another transfer of this case is waiting for its recipient's answer"
        )
    categories = _transfer_allowed(
        state, context, c.recipient_organisation, c.consent_id, c.living_situation, c.transferred_on
    )
    return [
        ev.CaseTransferred(
            recipient_organisation=c.recipient_organisation,
            consent_id=c.consent_id,
            released_categories=categories,
            transferred_on=c.transferred_on,
            receiving_case_id=c.receiving_case_id,
        ),
        ev.CaseClosed(
            closed_on=c.transferred_on,
            reason="transferred",
            living_situation=c.living_situation,
            **_obtained(state),
            referred_for_case_management=True,
        ),
    ]


def receiving_case(
    state: CaseState, transferred: ev.CaseTransferred, c: cmd.TransferCase
) -> ev.CaseOpened:
    """The receiving organisation's new case: only what the consent released."""
    released = set(transferred.released_categories)
    age = family = None
    if "demographics" in released:  # age and household are demographics: only with consent
        age = state.age_on(transferred.transferred_on)
        family = state.intake.family_served if state.intake is not None else None
    intake = Intake(
        intake_on=transferred.transferred_on,
        intake_type="transfer",
        referral_on=transferred.transferred_on,
        referral_source="ngo",
        age_at_intake=age,
        family_served=family or FamilyServed(),
    )
    return ev.CaseOpened(
        case_id=transferred.receiving_case_id,
        organisation_id=transferred.recipient_organisation,
        intake=intake,
        victim_status=state.victim_status if "trafficking" in released else None,
        identity=state.identity if "identity" in released else None,
        contact=state.contact if "contact" in released else None,
        demographics=state.demographics if "demographics" in released else None,
        trafficking=state.trafficking if "trafficking" in released else None,
        worker_id=c.receiving_worker_id,
        team_id=c.receiving_team_id,
        transferred_in=True,
    )


def _no_open_referrals(state: CaseState) -> None:
    if any(r.is_open for r in state.referrals.values()):
        raise err.OpenReferralsOnClosure(
            "resolve open referrals (complete, revoke or expire them) first"
        )


def _obtained(state: CaseState) -> dict[str, bool]:
    def obtained(*kinds: str) -> bool:
        return any(
            any(step in OBTAINED_STEPS[m.kind] for step, _ in m.history)
            for m in state.milestones.values()
            if m.kind in kinds
        )

    return {
        "obtained_continued_presence": obtained("continued_presence"),
        "obtained_t_visa": obtained("t_visa"),
        "obtained_hhs_letter": obtained("hhs_certification", "hhs_eligibility"),
    }


def close(state: CaseState, c: cmd.CloseCase, context: Context) -> list[DomainEvent]:
    require_codes(context, "closure_reason", c.reason)
    require_codes(context, "living_situation", c.living_situation)
    if c.reason == "transferred":
        raise err.InvalidValue("use a transfer to close a case as transferred")
    not_future(context, c.closed_on, "the closure")
    not_before(c.closed_on, state.enrolled_on, "the closure", "the start of enrolment")
    _no_open_referrals(state)
    facts = _obtained(state)
    claimed = {
        "obtained_continued_presence": c.obtained_continued_presence,
        "obtained_t_visa": c.obtained_t_visa,
        "obtained_hhs_letter": c.obtained_hhs_letter,
    }
    for name, value in claimed.items():
        if value and not facts[name]:
            raise err.InvalidValue(f"{name} is claimed but no such milestone is recorded")
    return [
        ev.CaseClosed(
            closed_on=c.closed_on,
            reason=c.reason,
            living_situation=c.living_situation,
            referred_for_case_management=c.referred_for_case_management,
            **facts,
        )
    ]


def reopen(state: CaseState, c: cmd.ReopenCase, context: Context) -> list[DomainEvent]:
    closure = state.closure
    if closure is None:
        raise err.CaseNotClosed("only a closed case can be reopened")
    if state.transfer is not None:
        raise err.CaseClosed("a transferred case lives on at the receiving organisation")
    not_future(context, c.reopened_on, "the reopening")
    not_before(c.reopened_on, closure.closed_on, "the reopening", "the closure")
    return [ev.CaseReopened(reopened_on=c.reopened_on, reason=c.reason)]

"""What a valid case state looks like, checked independently of `decide`.

Property tests fold whatever `decide` accepts and ask this module whether the result is a
state a careful case manager would accept; a finding means a rule is missing from `decide`.
"""

from __future__ import annotations

import itertools

from domain.case.lifecycles import IMMIGRATION_MACHINES, REFERRAL_TRANSITIONS
from domain.case.state import CaseState


def problems(state: CaseState) -> list[str]:
    found: list[str] = []
    if not state.exists:
        return found
    if state.intake is None or state.worker_id is None or state.enrolments < 1:
        found.append("an open case has an intake, a worker and an enrolment")
    for consent_id, consent in state.consents.items():
        g = consent.granted
        if not g.starts_on < g.expires_on or g.starts_on < g.signed_on:
            found.append(f"consent {consent_id} has dates out of order")
        if not (g.written and g.revocation_explained and g.data_categories):
            found.append(f"consent {consent_id} is not a valid release")
    for referral_id, referral in state.referrals.items():
        statuses = [status for status, _ in referral.history]
        if statuses[0] != "proposed":
            found.append(f"referral {referral_id} did not start as proposed")
        for before, after in itertools.pairwise(statuses):
            if after not in REFERRAL_TRANSITIONS[before]:
                found.append(f"referral {referral_id} moved {before} -> {after}")
        if "completed" in statuses and "accepted" not in statuses:
            found.append(f"referral {referral_id} completed without being accepted")
        days = [day for _, day in referral.history]
        if days != sorted(days):
            found.append(f"referral {referral_id} history goes back in time")
        p = referral.proposed
        if p.kind == "external":
            # Judged by the consent's window, not by a revocation recorded later (it may carry
            # an earlier date: the client revoked orally before staff could record it).
            covering = state.consents.get(p.consent_id or "")
            if covering is None or not (
                covering.granted.starts_on <= p.proposed_on <= covering.granted.expires_on
            ):
                found.append(f"external referral {referral_id} was proposed outside its consent")
            elif not set(p.released_categories) <= set(covering.granted.data_categories):
                found.append(
                    f"external referral {referral_id} released more than the consent covers"
                )
            elif covering.revoked is not None and referral.is_open:
                found.append(
                    f"external referral {referral_id} is still open under a revoked consent"
                )
    for milestone_id, milestone in state.milestones.items():
        machine = IMMIGRATION_MACHINES[milestone.kind]
        steps = [step for step, _ in milestone.history]
        if not machine.allows(None, steps[0]) or any(
            not machine.allows(a, b) for a, b in itertools.pairwise(steps)
        ):
            found.append(f"milestone {milestone_id} took an illegal step")
    if state.is_closed and any(r.is_open for r in state.referrals.values()):
        found.append("a closed case has open referrals")
    closure = state.closure
    if closure is not None and state.enrolled_on and closure.closed_on < state.enrolled_on:
        found.append("the case closed before it was opened")
    t = state.trafficking
    age = state.age_on(state.intake.intake_on) if state.intake else None
    if (
        t is not None
        and age is not None
        and age < 18
        and t.commercial_sex_act
        and t.trafficking_type not in ("sex", "both")
    ):
        found.append("a minor in commercial sex is not recorded as a sex-trafficking victim")
    return found

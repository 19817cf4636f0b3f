"""State machines of a case, as data: referrals (closed loop) and immigration milestones."""

from __future__ import annotations

from collections.abc import Mapping

# Referral lifecycle (Primero's closed loop): proposed -> sent -> accepted | declined ->
# in_progress -> completed | revoked | expired. A referral completes only once accepted.
REFERRAL_TRANSITIONS: Mapping[str, frozenset[str]] = {
    "proposed": frozenset({"sent", "revoked", "expired"}),
    "sent": frozenset({"accepted", "declined", "revoked", "expired"}),
    "accepted": frozenset({"in_progress", "completed", "revoked", "expired"}),
    "in_progress": frozenset({"completed", "revoked"}),
    "declined": frozenset(),
    "completed": frozenset(),
    "revoked": frozenset(),
    "expired": frozenset(),
}
REFERRAL_OPEN = frozenset(s for s, nxt in REFERRAL_TRANSITIONS.items() if nxt)
REFERRAL_AWAITING_ANSWER = frozenset({"proposed", "sent"})
REFERRAL_REASON_LIST = {"declined": "decline_reason", "revoked": "revoke_reason"}


class Machine:
    """A milestone's states: where it may start, and where each state may go."""

    def __init__(self, start: set[str], transitions: dict[str, set[str]]) -> None:
        self.start = frozenset(start)
        self.transitions = {state: frozenset(nxt) for state, nxt in transitions.items()}

    def allows(self, current: str | None, step: str) -> bool:
        if current is None:
            return step in self.start
        return step in self.transitions.get(current, frozenset())

    @property
    def states(self) -> frozenset[str]:
        return (
            self.start | frozenset(self.transitions) | frozenset().union(*self.transitions.values())
        )


IMMIGRATION_MACHINES: Mapping[str, Machine] = {
    # Continued Presence: requested by law enforcement; granted for a period, extendable.
    "continued_presence": Machine(
        {"requested"},
        {
            "requested": {"granted", "denied"},
            "granted": {"extended", "expired"},
            "extended": {"extended", "expired"},
            "expired": {"requested"},
            "denied": {"requested"},
        },
    ),
    # T visa, Form I-914, through to adjustment of status.
    "t_visa": Machine(
        {"preparing", "filed"},
        {
            "preparing": {"filed", "withdrawn"},
            "filed": {"evidence_requested", "approved", "denied", "withdrawn"},
            "evidence_requested": {"evidence_submitted", "withdrawn"},
            "evidence_submitted": {"approved", "denied", "evidence_requested"},
            "approved": {"adjustment_filed"},
            "adjustment_filed": {"permanent_residence_granted", "adjustment_denied"},
        },
    ),
    # I-914 Supplement A: a derivative family member.
    "t_visa_derivative": Machine(
        {"filed"},
        {
            "filed": {"approved", "denied", "withdrawn"},
        },
    ),
    # I-914 Supplement B: the law-enforcement declaration.
    "law_enforcement_declaration": Machine(
        {"requested"},
        {
            "requested": {"signed", "declined"},
            "declined": {"requested"},
        },
    ),
    # U visa, Form I-918, with its Supplement B certification first.
    "u_visa": Machine(
        {"certification_requested", "filed"},
        {
            "certification_requested": {"certified", "certification_declined"},
            "certified": {"filed"},
            "filed": {"waitlisted", "approved", "denied"},
            "waitlisted": {"approved", "denied"},
        },
    ),
    # HHS/OTIP certification letter (adults) and eligibility letter (minors; interim first).
    "hhs_certification": Machine(
        {"requested"},
        {
            "requested": {"issued", "denied"},
        },
    ),
    "hhs_eligibility": Machine(
        {"requested"},
        {
            "requested": {"interim_issued", "issued", "denied"},
            "interim_issued": {"issued", "denied"},
        },
    ),
}

# Steps that count, at closure and in grant-year reports, as "obtained".
OBTAINED_STEPS: Mapping[str, frozenset[str]] = {
    "continued_presence": frozenset({"granted", "extended"}),
    "t_visa": frozenset(
        {"approved", "adjustment_filed", "permanent_residence_granted", "adjustment_denied"}
    ),
    "hhs_certification": frozenset({"issued"}),
    "hhs_eligibility": frozenset({"interim_issued", "issued"}),
}

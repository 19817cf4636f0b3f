"""The names a person reads for the event types of a case's timeline: one mapping, used by the
case page's timeline and the conflict page's list of what changed."""

from __future__ import annotations

EVENT_NAMES = {
    "case.opened": "Case opened",
    "case.victim_status_determined": "Victim status determined",
    "case.trafficking_context_updated": "Trafficking context updated",
    "case.consent_granted": "Consent recorded",
    "case.consent_revoked": "Consent revoked",
    "case.statistics_consent_recorded": "Statistics consent recorded",
    "case.needs_assessed": "Needs assessed",
    "case.goal_set": "Goal set",
    "case.goal_status_changed": "Goal status changed",
    "case.referral_proposed": "Referral proposed",
    "case.referral_status_changed": "Referral status changed",
    "case.service_delivered": "Service delivered",
    "case.outcome_assessed": "Outcome assessed",
    "case.immigration_step_recorded": "Immigration step recorded",
    "case.assigned": "Case assigned",
    "case.transfer_requested": "Transfer requested",
    "case.transfer_declined": "Transfer declined",
    "case.transferred": "Case transferred",
    "case.closed": "Case closed",
    "case.reopened": "Case reopened",
}


def event_name(event_type: str) -> str:
    """The event type's name; for a type the mapping lacks, its words ("case.x_y" -> "X y")."""
    known = EVENT_NAMES.get(event_type)
    if known is not None:
        return known
    words = event_type.rpartition(".")[2].replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else "Change"

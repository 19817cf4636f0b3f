"""The names a person reads for the event types of a case's timeline: one mapping, used by the
case page's timeline and the conflict page's list of what changed."""

from __future__ import annotations

from services.console.i18n import N_

EVENT_NAMES = {
    "case.opened": N_("Case opened"),
    "case.victim_status_determined": N_("Victim status determined"),
    "case.trafficking_context_updated": N_("Trafficking context updated"),
    "case.consent_granted": N_("Consent recorded"),
    "case.consent_revoked": N_("Consent revoked"),
    "case.statistics_consent_recorded": N_("Statistics consent recorded"),
    "case.needs_assessed": N_("Needs assessed"),
    "case.goal_set": N_("Goal set"),
    "case.goal_status_changed": N_("Goal status changed"),
    "case.referral_proposed": N_("Referral proposed"),
    "case.referral_status_changed": N_("Referral status changed"),
    "case.service_delivered": N_("Service delivered"),
    "case.outcome_assessed": N_("Outcome assessed"),
    "case.immigration_step_recorded": N_("Immigration step recorded"),
    "case.assigned": N_("Case assigned"),
    "case.transfer_requested": N_("Transfer requested"),
    "case.transfer_declined": N_("Transfer declined"),
    "case.transferred": N_("Case transferred"),
    "case.closed": N_("Case closed"),
    "case.reopened": N_("Case reopened"),
}


def event_name(event_type: str) -> str:
    """The event type's name; for a type the mapping lacks, its words ("case.x_y" -> "X y")."""
    known = EVENT_NAMES.get(event_type)
    if known is not None:
        return known
    words = event_type.rpartition(".")[2].replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else "Change"

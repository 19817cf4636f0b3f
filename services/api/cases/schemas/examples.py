"""OpenAPI examples of the case routes' bodies: synthetic, and accepted by the service.

Every example is synthetic ("Client Example", 555-01xx numbers, placeholder towns) and is
accepted by the service as it stands, in this order: open, service, consent, referral,
referral status, revocation, closure (`tests/api/test_case_routes.py` posts them); and open,
victim status, trafficking context, needs, goal, goal status, statistics consent, then (after
a consent to transfer, `TRANSFER_CONSENT_EXAMPLE`) the transfer
(`tests/api/test_case_command_routes.py`).
"""

from __future__ import annotations

from typing import Any

from litestar.openapi.spec import Example

# -- OpenAPI examples: synthetic, and accepted by the service in this order -------------------

OPEN_CASE_EXAMPLE: dict[str, Any] = {
    "intake": {
        "intake_on": "2026-01-05",
        "intake_type": "referral",
        "referral_on": "2026-01-03",
        "referral_source": "hotline",
        "matched_within_48h": True,
        "eligibility_status": "eligible",
        "family_served": {"children_under_18": 1},
    },
    "victim_status": {
        "status": "strong_indicators",
        "determined_on": "2026-01-05",
        "determined_by": "worker-example-1",
    },
    "identity": {
        "preferred_name": "Client Example",
        "aliases": ["Example-1"],
        "date_of_birth": "1994-03-12",
    },
    "contact": {
        "channels": [
            {
                "channel": "phone_call",
                "detail": "555-0100",
                "safe_times": "weekday mornings",
                "may_leave_message": False,
            }
        ],
        "code_word": "placeholder-word",
    },
    "demographics": {
        "gender_identity": "woman",
        "lgbtq": "unknown",
        "race_ethnicity": ["not_reported"],
        "citizenship": "foreign_national",
        "preferred_language": "es",
        "interpreter_needed": True,
    },
    "trafficking": {
        "trafficking_type": "labor",
        "recruitment": ["job_offer"],
        "control_methods": ["debt_bondage", "threats"],
        "labor_industries": ["agriculture"],
        "vulnerabilities": ["recent_migration"],
        "recruitment_location": "Placeholder Town A",
        "narrative": "Synthetic narrative for the documentation.",
    },
}
RECORD_SERVICE_EXAMPLE: dict[str, Any] = {
    "service_id": "service-0001",
    "category": "case_management",
    "delivered_on": "2026-01-12",
    "units": 1,
    "minutes": 45,
    "notes": "Synthetic note: safety planning session.",
}
GRANT_CONSENT_EXAMPLE: dict[str, Any] = {
    "consent_id": "consent-0001",
    "recipient_organisation": "org-example-legal-aid",
    "purpose": "service_referral",
    "data_categories": ["identity", "contact"],
    "starts_on": "2026-01-15",
    "expires_on": "2026-07-15",
    "signed_on": "2026-01-15",
    "signed_by": "client",
    "revocation_explained": True,
    "written": True,
}
PROPOSE_REFERRAL_EXAMPLE: dict[str, Any] = {
    "referral_id": "referral-0001",
    "kind": "external",
    "category": "legal_immigration",
    "recipient": "org-example-legal-aid",
    "purpose": "service_referral",
    "proposed_on": "2026-01-16",
    "consent_id": "consent-0001",
    "released_categories": ["identity", "contact"],
}
UPDATE_REFERRAL_EXAMPLE: dict[str, Any] = {"status": "sent", "changed_on": "2026-01-17"}
REVOKE_CONSENT_EXAMPLE: dict[str, Any] = {"revoked_on": "2026-02-01", "method": "written"}
ASSESS_OUTCOME_EXAMPLE: dict[str, Any] = {
    "assessment_id": "outcome-0001",
    "assessed_on": "2026-02-20",
    "scores": {"safety": 4, "housing_stability": 3},
}
IMMIGRATION_STEP_EXAMPLE: dict[str, Any] = {
    "milestone_id": "milestone-0001",
    "kind": "continued_presence",
    "step": "requested",
    "on": "2026-01-20",
}
ASSIGN_CASE_EXAMPLE: dict[str, Any] = {"worker_id": "worker-example-2", "assigned_on": "2026-02-01"}
REOPEN_CASE_EXAMPLE: dict[str, Any] = {"reopened_on": "2026-03-10", "reason": "client returned"}
BREAK_GLASS_EXAMPLE: dict[str, Any] = {
    "reason": "Synthetic: the assigned worker is unreachable during a safety emergency.",
    "minutes": 30,
}
CLOSE_CASE_EXAMPLE: dict[str, Any] = {
    "closed_on": "2026-03-02",
    "reason": "goals_met",
    "living_situation": "rental",
    "referred_for_case_management": False,
}

VICTIM_STATUS_EXAMPLE: dict[str, Any] = {
    "status": "confirmed",
    "determined_on": "2026-01-20",
    "determined_by": "worker-example-1",
    "screening_ids": [],  # the organisation's screenings behind it (`/v1/screenings`), if any
}
TRAFFICKING_CONTEXT_EXAMPLE: dict[str, Any] = {
    "trafficking_type": "labor",
    "recruitment": ["job_offer"],
    "control_methods": ["debt_bondage", "threats"],
    "labor_industries": ["agriculture"],
    "vulnerabilities": ["recent_migration"],
    "recruitment_location": "Placeholder Town A",
    "exploitation_location": "Placeholder Town B",
    "narrative": "Synthetic narrative, revised after a second interview.",
}
ASSESS_NEEDS_EXAMPLE: dict[str, Any] = {
    "assessment_id": "needs-0001",
    "assessed_on": "2026-01-08",
    "needs": ["housing_shelter", "legal_immigration"],
    "notes": "Synthetic note: needs a safe place to stay and immigration advice.",
}
SET_GOAL_EXAMPLE: dict[str, Any] = {
    "goal_id": "goal-0001",
    "category": "housing_shelter",
    "description": "Synthetic goal: move from the shelter into stable rental housing.",
    "set_on": "2026-01-08",
    "target_on": "2026-06-30",
}
CHANGE_GOAL_STATUS_EXAMPLE: dict[str, Any] = {"status": "in_progress", "changed_on": "2026-02-02"}
STATISTICS_CONSENT_EXAMPLE: dict[str, Any] = {"agrees": True, "recorded_on": "2026-01-05"}
TRANSFER_CONSENT_EXAMPLE: dict[str, Any] = {
    "consent_id": "consent-0002",
    "recipient_organisation": "org-example-receiving",
    "purpose": "case_transfer",
    "data_categories": ["identity", "contact", "trafficking"],
    "starts_on": "2026-02-20",
    "expires_on": "2026-08-20",
    "signed_on": "2026-02-20",
    "signed_by": "client",
    "revocation_explained": True,
    "written": True,
}
TRANSFER_CASE_EXAMPLE: dict[str, Any] = {
    "recipient_organisation": "org-example-receiving",
    "consent_id": "consent-0002",
    "requested_on": "2026-03-01",
    "receiving_worker_id": "worker-example-9",
    "receiving_team_id": "team-example-east",
    "living_situation": "shelter",
}


ACCEPT_TRANSFER_EXAMPLE: dict[str, Any] = {"accepted_on": "2026-03-02"}
DECLINE_TRANSFER_EXAMPLE: dict[str, Any] = {
    "declined_on": "2026-03-02",
    "reason": "Synthetic: no shelter place this month.",
}


def example(summary: str, value: dict[str, Any]) -> list[Example]:
    return [Example(summary=summary, value=value)]

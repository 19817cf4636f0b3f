"""The demo's external partners: fictitious organisations a client is referred to.

For each service category, the partner that provides it, the purpose a release to it states,
and the data categories such a referral needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# External partners: fictitious organisations, with the purpose and the data a referral needs.
PARTNERS: Mapping[str, tuple[str, str, tuple[str, ...]]] = MappingProxyType(
    {
        "legal_immigration": (
            "partner-immigration-law",
            "immigration_relief",
            ("identity", "contact", "immigration", "trafficking"),
        ),
        "legal_criminal_civil": (
            "partner-legal-aid",
            "legal_representation",
            ("identity", "contact", "legal", "trafficking"),
        ),
        "medical": (
            "partner-community-clinic",
            "care_coordination",
            ("identity", "contact", "health", "needs"),
        ),
        "dental": (
            "partner-community-clinic",
            "care_coordination",
            ("identity", "contact", "health"),
        ),
        "substance_use": (
            "partner-community-clinic",
            "care_coordination",
            ("identity", "contact", "health", "needs"),
        ),
        "mental_health": (
            "partner-counseling-collective",
            "care_coordination",
            ("identity", "contact", "health", "needs"),
        ),
        "housing_shelter": (
            "partner-shelter-network",
            "service_referral",
            ("identity", "contact", "needs", "demographics"),
        ),
        "basic_necessities": ("partner-shelter-network", "service_referral", ("contact", "needs")),
        "financial_assistance": (
            "partner-family-resource-center",
            "service_referral",
            ("identity", "contact", "needs"),
        ),
        "childcare": (
            "partner-family-resource-center",
            "service_referral",
            ("contact", "needs", "demographics"),
        ),
        "transportation": (
            "partner-family-resource-center",
            "service_referral",
            ("contact", "needs"),
        ),
        "employment": (
            "partner-workforce-hub",
            "service_referral",
            ("identity", "contact", "needs"),
        ),
        "education": (
            "partner-workforce-hub",
            "service_referral",
            ("identity", "contact", "needs"),
        ),
        "life_skills": ("partner-workforce-hub", "service_referral", ("contact", "needs")),
        "interpretation_translation": (
            "partner-language-bridge",
            "service_referral",
            ("contact", "demographics"),
        ),
        "repatriation": (
            "partner-safe-return",
            "service_referral",
            ("identity", "contact", "immigration"),
        ),
        "family_reunification": (
            "partner-safe-return",
            "service_referral",
            ("identity", "contact", "needs"),
        ),
        "crisis_intervention": (
            "partner-regional-coalition",
            "care_coordination",
            ("contact", "needs", "trafficking"),
        ),
        "case_management": (
            "partner-regional-coalition",
            "care_coordination",
            ("identity", "contact", "needs", "services"),
        ),
    }
)

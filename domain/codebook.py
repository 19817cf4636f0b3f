"""The codebook: every category Haven records, as versioned data rather than enums.

Events store codes as plain strings, so adding a category is a new codebook version and
needs no migration of stored events; a code removed from a later version still folds (state
never re-validates history), while new commands are validated against the current version.
Sources: REFERENCE.md §1 (OTIP/TVAP/DVHT forms, OVC TIMS, VOCA, HUD, IOM HTCDS).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


class UnknownCode(ValueError):
    """A value is not a code of the named list in the current codebook."""

    def __init__(self, list_name: str, code: str) -> None:
        # The message names the list, never the value: a value typed into the wrong field
        # could be anything, and messages reach error bodies.
        super().__init__(f"a value is not a code of {list_name!r}")
        self.list_name = list_name
        self.code = code


@dataclass(frozen=True)
class Codebook:
    version: str
    lists: Mapping[str, Mapping[str, str]] = field(repr=False)  # list name -> code -> label

    def codes(self, list_name: str) -> frozenset[str]:
        return frozenset(self.lists[list_name])

    def label(self, list_name: str, code: str) -> str:
        return self.lists[list_name][code]

    def require(self, list_name: str, *codes: str) -> None:
        known = self.lists[list_name]
        for code in codes:
            if code not in known:
                raise UnknownCode(list_name, code)

    def extended(self, version: str, additions: Mapping[str, Mapping[str, str]]) -> Codebook:
        """A later codebook with categories added (the way the codebook grows)."""
        lists = {name: dict(codes) for name, codes in self.lists.items()}
        for name, codes in additions.items():
            lists.setdefault(name, {}).update(codes)
        return Codebook(
            version, MappingProxyType({k: MappingProxyType(v) for k, v in lists.items()})
        )


def _codes(*pairs: tuple[str, str]) -> dict[str, str]:
    return dict(pairs)


_LISTS: dict[str, dict[str, str]] = {
    "intake_type": _codes(
        ("walk_in", "Walk-in"),
        ("referral", "Referral"),
        ("hotline", "Hotline"),
        ("outreach", "Outreach"),
        ("law_enforcement", "Law enforcement"),
        ("transfer", "Transfer from another organisation"),
    ),
    "referral_source": _codes(
        ("self", "Self"),
        ("law_enforcement", "Law enforcement"),
        ("ngo", "Non-governmental organisation"),
        ("hotline", "National hotline"),
        ("health_care", "Health care provider"),
        ("school", "School"),
        ("child_welfare", "Child welfare"),
        ("faith_based", "Faith-based organisation"),
        ("family_friend", "Family or friend"),
        ("other", "Other"),
    ),
    "eligibility_status": _codes(
        ("eligible", "Eligible"), ("pending", "Pending"), ("ineligible", "Ineligible")
    ),
    "victim_status": _codes(("confirmed", "Confirmed"), ("strong_indicators", "Strong indicators")),
    "trafficking_type": _codes(
        ("sex", "Sex"), ("labor", "Labor"), ("both", "Sex and labor"), ("unknown", "Unknown")
    ),
    "gender_identity": _codes(
        ("woman", "Woman"),
        ("man", "Man"),
        ("transgender_woman", "Transgender woman"),
        ("transgender_man", "Transgender man"),
        ("non_binary", "Non-binary"),
        ("another", "Another gender identity"),
        ("not_reported", "Not reported"),
    ),
    "yes_no_unknown": _codes(("yes", "Yes"), ("no", "No"), ("unknown", "Unknown")),
    "race_ethnicity": _codes(
        ("american_indian_alaska_native", "American Indian or Alaska Native"),
        ("asian", "Asian"),
        ("black_african_american", "Black or African American"),
        ("hispanic_latino", "Hispanic or Latino"),
        ("middle_eastern_north_african", "Middle Eastern or North African"),
        ("native_hawaiian_pacific_islander", "Native Hawaiian or Pacific Islander"),
        ("white", "White"),
        ("not_reported", "Not reported"),
    ),
    "disability": _codes(
        ("hearing", "Hearing"),
        ("vision", "Vision"),
        ("cognitive", "Cognitive"),
        ("ambulatory", "Ambulatory"),
        ("self_care", "Self-care"),
        ("independent_living", "Independent living"),
    ),
    "citizenship": _codes(
        ("us_citizen", "US citizen"),
        ("lawful_permanent_resident", "Lawful permanent resident"),
        ("foreign_national", "Foreign national"),
    ),
    "recruitment_method": _codes(
        ("abduction", "Abduction"),
        ("familial", "Familial"),
        ("internet", "Internet"),
        ("job_offer", "Job offer"),
        ("intimate_partner", "Intimate partner"),
        ("other", "Other"),
    ),
    "control_method": _codes(
        ("debt_bondage", "Debt bondage"),
        ("takes_earnings", "Takes earnings"),
        ("restricts_financial_access", "Restricts financial access"),
        ("threats", "Threats"),
        ("psychological_abuse", "Psychological abuse"),
        ("physical_abuse", "Physical abuse"),
        ("sexual_abuse", "Sexual abuse"),
        ("false_promises", "False promises"),
        ("psychoactive_substances", "Psychoactive substances"),
        ("restricts_movement", "Restricts movement"),
        ("restricts_medical_care", "Restricts medical care"),
        ("excessive_hours", "Excessive working hours"),
        ("withholds_necessities", "Withholds necessities"),
        ("withholds_documents", "Withholds documents"),
        ("threat_of_law_enforcement", "Threat of law enforcement"),
    ),
    "labor_industry": _codes(
        ("agriculture", "Agriculture"),
        ("domestic_work", "Domestic work"),
        ("construction", "Construction"),
        ("hospitality", "Hospitality"),
        ("restaurant", "Restaurant and food service"),
        ("manufacturing", "Manufacturing"),
        ("peddling_begging", "Peddling and begging"),
        ("health_beauty", "Health and beauty"),
        ("fishing", "Fishing"),
        ("other", "Other"),
    ),
    "sex_exploitation": _codes(
        ("commercial_sex", "Commercial sex"),
        ("pornography", "Pornography"),
        ("stripping", "Stripping"),
        ("escort", "Escort services"),
        ("illicit_massage", "Illicit massage"),
        ("other", "Other"),
    ),
    "vulnerability": _codes(
        ("substance_use", "Substance use"),
        ("mental_health", "Mental health"),
        ("homelessness", "Homelessness"),
        ("runaway", "Runaway youth"),
        ("child_welfare_involvement", "Child welfare involvement"),
        ("recent_migration", "Recent migration"),
        ("poverty", "Economic hardship"),
        ("domestic_violence", "Domestic violence"),
        ("disability", "Disability"),
        ("other", "Other"),
    ),
    "contact_channel": _codes(
        ("phone_call", "Phone call"),
        ("text_message", "Text message"),
        ("email", "Email"),
        ("in_person", "In person"),
        ("through_advocate", "Through an advocate"),
    ),
    "data_category": _codes(
        ("identity", "Identity and names"),
        ("contact", "Safe-contact details"),
        ("demographics", "Demographics"),
        ("trafficking", "Trafficking experience"),
        ("needs", "Needs and service plan"),
        ("services", "Services received"),
        ("referrals", "Referrals"),
        ("outcomes", "Outcome assessments"),
        ("immigration", "Immigration and certification"),
        ("health", "Health information"),
        ("legal", "Legal matters"),
    ),
    "consent_purpose": _codes(
        ("service_referral", "Referral for services"),
        ("case_transfer", "Transfer of case management"),
        ("care_coordination", "Coordination of care"),
        ("legal_representation", "Legal representation"),
        ("immigration_relief", "Immigration relief"),
    ),
    "service_category": _codes(
        ("basic_necessities", "Basic necessities"),
        ("case_management", "Case management"),
        ("childcare", "Childcare"),
        ("crisis_intervention", "Crisis intervention"),
        ("education", "Education"),
        ("employment", "Employment"),
        ("housing_shelter", "Housing or shelter"),
        ("interpretation_translation", "Interpretation or translation"),
        ("legal_immigration", "Legal (immigration)"),
        ("legal_criminal_civil", "Legal (criminal or civil)"),
        ("medical", "Medical"),
        ("dental", "Dental"),
        ("mental_health", "Mental health"),
        ("substance_use", "Substance use"),
        ("transportation", "Transportation"),
        ("family_reunification", "Family reunification"),
        ("financial_assistance", "Financial assistance"),
        ("life_skills", "Life skills"),
        ("repatriation", "Repatriation"),
    ),
    "decline_reason": _codes(
        ("no_capacity", "No capacity"),
        ("not_eligible", "Not eligible"),
        ("client_declined", "Client declined"),
        ("unreachable", "Client unreachable"),
        ("duplicate", "Duplicate referral"),
        ("other", "Other"),
    ),
    "revoke_reason": _codes(
        ("consent_revoked", "Consent revoked"),
        ("client_request", "Client request"),
        ("safety_concern", "Safety concern"),
        ("entered_in_error", "Entered in error"),
        ("other", "Other"),
    ),
    "goal_status": _codes(
        ("open", "Open"),
        ("in_progress", "In progress"),
        ("achieved", "Achieved"),
        ("discontinued", "Discontinued"),
    ),
    "outcome_domain": _codes(
        ("safety", "Safety"),
        ("housing_stability", "Housing stability"),
        ("physical_health", "Physical health"),
        ("mental_health", "Mental health"),
        ("legal_status", "Legal status"),
        ("income_employment", "Income and employment"),
        ("education", "Education"),
        ("social_support", "Social support"),
    ),
    "closure_reason": _codes(
        ("goals_met", "Service goals met"),
        ("client_request", "Client request"),
        ("lost_contact", "Lost contact"),
        ("moved_away", "Moved out of service area"),
        ("transferred", "Transferred to another organisation"),
        ("repatriated", "Repatriated"),
        ("ineligible", "Found ineligible"),
        ("deceased", "Deceased"),
        ("other", "Other"),
    ),
    "living_situation": _codes(
        ("own_housing", "Own housing"),
        ("rental", "Rental housing"),
        ("with_family_friends", "With family or friends"),
        ("transitional_housing", "Transitional housing"),
        ("shelter", "Emergency shelter"),
        ("foster_care", "Foster care"),
        ("institution", "Institution"),
        ("unsheltered", "Unsheltered"),
        ("unknown", "Unknown"),
    ),
    "immigration_kind": _codes(
        ("continued_presence", "Continued Presence"),
        ("t_visa", "T visa (Form I-914)"),
        ("t_visa_derivative", "T visa derivative (I-914 Supplement A)"),
        ("law_enforcement_declaration", "Law-enforcement declaration (I-914 Supplement B)"),
        ("u_visa", "U visa (Form I-918)"),
        ("hhs_certification", "HHS certification letter (adults)"),
        ("hhs_eligibility", "HHS eligibility letter (minors)"),
    ),
    "family_relation": _codes(
        ("spouse", "Spouse"),
        ("child", "Child"),
        ("parent", "Parent"),
        ("sibling", "Unmarried sibling under 18"),
    ),
}

CURRENT = Codebook("2026.1", MappingProxyType({k: MappingProxyType(v) for k, v in _LISTS.items()}))

"""Haven's taxonomies for directory attributes: what a service offers and whom it serves.

* `haven-service-category`: the service categories of the case record's referrals and
  services (the codebook's ``service_category``), so a referral's category finds the
  services that offer it;
* `haven-gender-served`: the codebook's ``gender_identity`` codes (none listed: every gender);
* `haven-trafficking-type-served`: ``sex``, ``labor`` (none listed: both).

Attributes of other taxonomies (a state's 211 taxonomy, say) are kept and exported as given,
but searched by none of Haven's filters.
"""

from __future__ import annotations

from domain.codebook import CURRENT

CATEGORY = "haven-service-category"
GENDER = "haven-gender-served"
TRAFFICKING_TYPE = "haven-trafficking-type-served"

TAXONOMIES: dict[str, frozenset[str]] = {
    CATEGORY: CURRENT.codes("service_category"),
    GENDER: CURRENT.codes("gender_identity") - {"not_reported"},
    TRAFFICKING_TYPE: frozenset({"sex", "labor"}),
}


def label(taxonomy: str, code: str) -> str | None:
    """The term's name in Haven's taxonomy (None outside it)."""
    if taxonomy == CATEGORY and code in TAXONOMIES[CATEGORY]:
        return CURRENT.label("service_category", code)
    if taxonomy == GENDER and code in TAXONOMIES[GENDER]:
        return CURRENT.label("gender_identity", code)
    if taxonomy == TRAFFICKING_TYPE and code in TAXONOMIES[TRAFFICKING_TYPE]:
        return CURRENT.label("trafficking_type", code)
    return None

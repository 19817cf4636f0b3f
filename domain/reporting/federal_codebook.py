"""The federal reporting codebook: every dimension and category, fixed in advance.

Categories are never derived from the data: every listed category is a cell, zeros included
(REFERENCE §3.2), and a release names the `VERSION` it was built with, so a later version
that adds a category does not change what an old release meant. Tables (`TableSpec`) are
grouped into small families (`Family`) over the same people, audited together through the
link (`LINK_DIMENSIONS`); the families themselves are listed in
`domain.reporting.federal_families`. Pure data: standard library and `domain.codebook` only.

What is suppressed: every table about people — clients served, entered, closed, given
services, how their outcomes changed, whether another agency served them, and the people
screened (the identification funnel) — at k = 11 with complementary suppression and the exact
audit. The activity measures (trainings, people trained by sector, outreach contacts,
technical assistance: `domain.reporting.activity_measures`) count organisational facts and the
professionals and public an organisation reached, not people it serves: they are published as
counted, and each release's certificate says so (`not_suppressed`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domain.codebook import CURRENT
from domain.reporting.generalisation import (
    AGE_BAND_CODES,
    AGE_GROUP_CODES,
    AGE_GROUP_OF_BAND,
    GENDER_CODES,
)

# The codebook's version; a release names the one it was built with. federal-2026.3 holds the
# change in outcome (`tims_outcome_change`) and every table before it; federal-2026.4 holds
# those and whether another agency served the client (`tims_served_by_another_agency`).
VERSION = "federal-2026.4"
# Consent (REFERENCE §3.10). Mandatory totals count every client: TIMS clients served and new
# clients, HHS/OTIP entries and closures by program, VOCA new vs continuing, HUD APR Q5a. Every
# other breakdown is a non-mandatory statistic and counts only clients who consented to
# statistics: in the atoms, a non-consenting client's category is WITHHELD, which no breakdown
# publishes — except VOCA's demographics of new victims, which must sum to the new count,
# where WITHHELD folds into "not reported" (`TableSpec.not_reported`).
WITHHELD = "withheld"  # atom code of a client without statistics consent (never published)

SERVICE_CATEGORIES: tuple[str, ...] = tuple(CURRENT.lists["service_category"])
# Change in outcome (`domain.case.outcome_trends`), per outcome domain: a consenting client
# served in the quarter whose domain was scored at least twice by the quarter's end improved,
# stayed the same or got worse (first score against latest); fewer than two scores is
# not_measured. One family per domain, as for the service categories.
OUTCOME_DOMAINS: tuple[str, ...] = tuple(CURRENT.lists["outcome_domain"])
OUTCOME_CHANGES = ("improved", "same", "worse", "not_measured")
# HHS/OTIP tables split entries and closures by grant program: TVAP serves foreign nationals,
# DVHT US citizens and lawful permanent residents; a client whose citizenship is not reported
# is not_assigned.
PROGRAMS = ("tvap", "dvht", "not_assigned")
PROGRAM_OF_CITIZENSHIP = {
    "foreign_national": "tvap",
    "citizen_or_lpr": "dvht",
    "not_reported": "not_assigned",
}

# The identification funnel (`federal_families`, family ``identification``): screenings
# recorded in the quarter (`domain.screening`), by the result stored with each, and by what
# became of the person by the end of that quarter: their screening belongs to a case served in
# the quarter (a client), who was given at least one service in it (client_served). A client
# without consent to statistics is `withheld`: counted as screened and by result, never in the
# client stages (the consent rule of every non-mandatory statistic).
SCREENING_RESULTS = ("no_indicators", "indicators_present", "strong_indicators", "confirmed")
SCREENING_OUTCOMES = ("not_client", WITHHELD, "client", "client_served")
SCREENING_CODES = tuple(f"{r}/{o}" for r in SCREENING_RESULTS for o in SCREENING_OUTCOMES)


def _screenings(results: tuple[str, ...], outcomes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{r}/{o}" for r in results for o in outcomes)


# Classifications that group the codes of a dimension (classification -> (dimension, groups));
# every other classification of a table is its dimension's own codes. A funnel stage holds
# every screening that reached it, so its groups overlap (each is a cell of its own, no line);
# the first stage holds everyone screened, as does the table's total.
GROUPINGS: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {
    "screening_result": (
        "screening",
        {r: _screenings((r,), SCREENING_OUTCOMES) for r in SCREENING_RESULTS},
    ),
    "funnel_stage": (
        "screening",
        {
            "screened": SCREENING_CODES,
            "indicators_present": _screenings(SCREENING_RESULTS[1:], SCREENING_OUTCOMES),
            "strong_or_confirmed": _screenings(SCREENING_RESULTS[2:], SCREENING_OUTCOMES),
            "became_client": _screenings(SCREENING_RESULTS, ("client", "client_served")),
            "received_services": _screenings(SCREENING_RESULTS, ("client_served",)),
        },
    ),
}

# Dimension name -> the published categories, in order (atoms add WITHHELD where consent-gated).
CATEGORIES: dict[str, tuple[str, ...]] = {
    "victim_status": ("confirmed", "strong_indicators", "not_determined"),
    "age_group": AGE_GROUP_CODES,
    "trafficking_type": ("sex", "labor", "both", "unknown", "not_reported"),
    "gender": GENDER_CODES,
    "age_band": AGE_BAND_CODES,
    "newness": ("new", "continuing"),
    "program": PROGRAMS,
    "entry_type": (*CURRENT.lists["intake_type"], "reopening"),
    "closure_reason": tuple(CURRENT.lists["closure_reason"]),
    "living_situation": tuple(CURRENT.lists["living_situation"]),
    "referred_on": ("yes", "no"),
    "obtained": ("yes", "no"),
    "received": ("yes", "no"),
    "outcome_change": OUTCOME_CHANGES,
    # the client says another agency served them, or was received by transfer (GBVIMS): the
    # roll-up's "no" is its unduplicated count (`domain.reporting.unduplicated`)
    "served_by_another_agency": ("yes", "no"),
    "exit": ("stayer", "leaver"),
    # a screening of the quarter: its result and its outcome, "<result>/<outcome>"
    # (`SCREENING_RESULTS` x `SCREENING_OUTCOMES`); published only grouped (`GROUPINGS`)
    "screening": SCREENING_CODES,
}

BANDS_OF_AGE_GROUP: dict[str, tuple[str, ...]] = {
    group: tuple(band for band, of in AGE_GROUP_OF_BAND.items() if of == group)
    for group in CATEGORIES["age_group"]
}

# The link. Families over the same people share more than the totals they publish: every
# family counts clients served in a quarter (entries, closures, services and the grant year's
# new clients are parts of them), so all families are audited together, as one integer system
# (`domain.reporting.linked.Linked`). The link is the cross-classification of what the
# families have in common — organisation x quarter x vintage x the dimensions below — one
# unknown count per link atom, and every family atom is a sum over the link atoms it belongs
# to (`Family.link_codes`): a WITHHELD atom is a non-consenting client of any age, an age group
# is every band of it (`BANDS_OF_AGE_GROUP`), HUD's age group spans both consents, a
# grant-year atom is a new client, a service atom a consenting client, an entry family's atom
# a client who entered in the quarter, a closure family's atom a client who left a program in
# it. An age group is a union of link codes, so the link's cells by age group are audited as
# well as those by band (`LINK_UNIONS`).
#
# Each link closes a real leak of an audit without it (tests/services/reporting/
# test_linked_attacks.py and test_linked_populations.py): TIMS minors minus VOCA new minors
# (continuing minors; in a fiscal year's first quarter, the new children 0-11); HUD children
# minus TIMS minors (non-consenting minors); the withheld count that one family pins (TIMS
# clients served minus any TIMS breakdown's consenting total) opening a category another
# family folds it into (VOCA's "not reported" / "not tracked"); consenting minors served minus
# consenting minors entering; consenting clients served minus consenting closures; the service
# families' population against the served families' consenting totals; the grant-year
# families' consenting clients by program against each other; VOCA's new victims of one age
# band against OTIP's entries of that band.
#
# Auditing the families glued by the link is exact: given the link counts, each family's
# remaining dimensions (victim status, trafficking type, gender, leaver/stayer, services
# received, entry type, closure reason, immigration outcome...) are its own — no other family
# breaks them down — so any point of every family that agrees on the link counts is the
# projection of one joint cross-classification (`Linked`, "Exactness").
LINK_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "newness": CATEGORIES["newness"],
    "consent": ("yes", "no"),
    "age_band": CATEGORIES["age_band"],  # an age group is the union of its bands
    "program": PROGRAMS,
    "entered": ("yes", "no"),  # a program entry in the quarter (the entry families' population)
    "closed": ("yes", "no"),  # a program exit in the quarter (the closure families' population)
}
# Unions of codes of a link dimension that families publish as one category: audited as link
# cells too, as if they were codes (the minors served who did not enter are "minor" = 0-11 or
# 12-17, in no single band).
LINK_UNIONS: tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...] = (
    (
        "age_band",
        tuple((group, bands) for group, bands in BANDS_OF_AGE_GROUP.items() if len(bands) > 1),
    ),
)

# Fields of funders' templates that ask for something about one person (REFERENCE §3.1). None
# is ever answered with a person's data: each is answered with the codebook table that stands
# for it, and asking is logged as a refusal (`services.reporting.funder_fields`).
IDENTIFYING_FIELDS: dict[str, str] = {
    "client_id": "tims_clients_served",  # identifiers of any kind: how many clients were served
    "name": "tims_clients_served",
    "ssn": "tims_clients_served",
    "date_of_birth": "voca_new_by_age",  # age at intake in bands (§3.8)
    "address": "tims_clients_served",  # no geography below the state
    "zip_code": "tims_clients_served",
    "phone": "tims_clients_served",
    "email": "tims_clients_served",
    # nationality only as citizen/LPR vs foreign national (the program)
    "country_of_origin": "otip_program_entry",
    # one person's screening: its answers or its id. The results and the funnel, counted.
    "screening_answers": "tims_screening_results",
    "screening_id": "identification_funnel",
}

# Fields of funders' templates (OVC TIMS performance measures) that name a codebook table by
# another name: answered with that table, no refusal (they ask for counts).
TEMPLATE_FIELDS: dict[str, str] = {
    "individuals_screened": "identification_funnel",
    "victims_identified": "identification_funnel",
    "screening_results": "tims_screening_results",
    "trainings": "tims_trainings_by_sector",
    "people_trained": "tims_trainings_by_sector",
    "outreach_events": "tims_outreach",
    "outreach_contacts": "tims_outreach",
    "technical_assistance": "tims_technical_assistance",
    "technical_assistance_hours": "tims_technical_assistance",
}

# Dimensions whose categories are sensitive: each row of another classification is an
# outsider-identifiable group that must keep two categories possible (REFERENCE §3.5).
SENSITIVE = frozenset({"victim_status", "trafficking_type", "obtained", "screening_result"})


@dataclass(frozen=True)
class TableSpec:
    name: str
    program: str  # ovc_tims | hhs_otip | voca | hud
    by: tuple[str, ...]  # family dimensions broken down (each with all its categories and a total)
    # quarter | ytd (fiscal year to date) | grant_year (complete fiscal year)
    period: str = "quarter"
    # a mandatory total: every client counted; its grand total survives the minimum unit
    mandatory: bool = False
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()  # fixed codes of family dimensions
    not_reported: str | None = None  # VOCA: this category also holds the clients without consent
    description: str = ""


@dataclass(frozen=True)
class Family:
    """One universe of atoms — counts of organisation x quarter (of the federal fiscal year) x
    vintage x the family's own dimensions — over which all its tables, for every quarter,
    year-to-date, organisation, roll-up and revision, are sums. A family has one or two
    breakdowns, so that its atoms stay few (a few hundred).

    Populations (rows of ``reporting.federal_inputs``, `domain.reporting.reported_case`):

    * ``served``: one row per client per quarter served; year-to-date counts are unduplicated
      by counting only the row where the client is `new` in the fiscal year.
    * ``entered``: rows with a program entry in the quarter (intake, transfer-in, reopening).
    * ``closed``: rows with a program exit in the quarter.
    * ``grant_year``: one row per client per fiscal year (the `new` row), with the immigration
      outcomes obtained in that fiscal year; released only for a complete fiscal year.
    * ``service:<code>``: consenting clients served in the quarter, by whether they received
      at least one service of that category.
    * ``outcome:<domain>``: consenting clients served in the quarter, by how that outcome
      domain changed from its first score to its latest by the quarter's end
      (``OUTCOME_CHANGES``).
    * ``screened``: screenings recorded in the quarter (``SCREENING_CODES``), read as counts
      (`services.reporting.true_counts`). Not linked: a screening is not a client row, and no
      count of the other families is a sum of screenings (`linked`).

    HUD's comparable-database aggregate is APR Q5a ("Report Validations"), restricted to
    persons: persons served by adult / child / age not tracked and by leaver / stayer (stayer:
    still enrolled at the end of the quarter).
    """

    name: str
    # served | entered | closed | grant_year | service:<code> | outcome:<domain> | screened
    population: str
    dimensions: tuple[str, ...]  # the family's own (besides organisation, quarter, vintage)
    consent_gated: tuple[str, ...]  # dimensions whose atoms code non-consenting clients WITHHELD
    tables: tuple[TableSpec, ...]

    @property
    def linked(self) -> bool:
        """Whether the family counts the clients of ``reporting.federal_inputs`` (audited with
        every other such family through the link) rather than a population of its own."""
        return self.population != "screened"

    def codes(self, dimension: str) -> tuple[str, ...]:
        codes = CATEGORIES[dimension]
        return (*codes, WITHHELD) if dimension in self.consent_gated else codes

    def link_codes(self, codes: Mapping[str, str]) -> dict[str, str | tuple[str, ...]]:
        """The link dimensions (`LINK_DIMENSIONS`) one atom of this family fixes (to a code, or
        to a union of codes); the others it spans.

        `codes`: the atom's code of each family dimension. Consent: an atom holding ``WITHHELD``
        is a non-consenting client, any other atom of a consent-gated family (or of a
        consenting-only population, the service and outcome families) a consenting one; a
        family without consent gating (HUD) spans both. Age: the family's own age band, or every
        band of its age group.
        """
        fixed: dict[str, str | tuple[str, ...]] = {}
        if self.population == "entered":
            fixed["entered"] = "yes"
        if self.population == "closed":
            fixed["closed"] = "yes"
        if self.population == "grant_year":
            # one row per client per fiscal year: the quarter the client is new
            fixed["newness"] = "new"
        if self.population.startswith(("service:", "outcome:")):
            fixed["consent"] = "yes"
        if self.consent_gated:
            fixed["consent"] = (
                "no" if any(codes[d] == WITHHELD for d in self.consent_gated) else "yes"
            )
        for dimension, code in codes.items():
            if code == WITHHELD:
                continue
            if dimension in ("newness", "program", "age_band"):
                fixed[dimension] = code
            elif dimension == "age_group":
                fixed["age_band"] = BANDS_OF_AGE_GROUP[code]
        return fixed

"""The federal codebook's families (`FAMILIES`): every table a release publishes, in order.

Their dimensions, categories and link are in `domain.reporting.federal_codebook`, whose
`VERSION` names these tables too. Pure data.
"""

from __future__ import annotations

from domain.reporting.activity_measures import ACTIVITY_TABLES
from domain.reporting.code_families import OUTCOME_FAMILIES, SERVICE_FAMILIES
from domain.reporting.federal_codebook import Family, TableSpec

_NEW = (("newness", ("new",)),)


def _served_totals() -> tuple[TableSpec, ...]:
    return (
        TableSpec(
            "tims_clients_served",
            "ovc_tims",
            (),
            mandatory=True,
            description="OVC TIMS: clients served in the quarter",
        ),
        TableSpec(
            "tims_clients_served_ytd",
            "ovc_tims",
            (),
            period="ytd",
            mandatory=True,
            where=_NEW,
            description="OVC TIMS: clients served in the fiscal year to date (unduplicated)",
        ),
    )


def _voca_new_continuing() -> TableSpec:
    return TableSpec(
        "voca_new_continuing",
        "voca",
        ("newness",),
        mandatory=True,
        description=(
            "VOCA: victims served in the quarter, new (first time this fiscal year) vs continuing"
        ),
    )


FAMILIES: tuple[Family, ...] = (
    Family(
        "served_victim_status",
        "served",
        ("newness", "victim_status"),
        ("victim_status",),
        (
            *_served_totals(),
            TableSpec(
                "tims_victim_status",
                "ovc_tims",
                ("victim_status",),
                description=(
                    "OVC TIMS: clients served by victim status at the end of the quarter "
                    "(consenting)"
                ),
            ),
        ),
    ),
    Family(
        "served_age_group",
        "served",
        ("newness", "age_group"),
        ("age_group",),
        (
            *_served_totals(),
            TableSpec(
                "tims_age_group",
                "ovc_tims",
                ("age_group",),
                description=(
                    "OVC TIMS: clients served, adult / minor / age not tracked at intake "
                    "(consenting)"
                ),
            ),
        ),
    ),
    Family(
        "served_trafficking_type",
        "served",
        ("newness", "trafficking_type"),
        ("trafficking_type",),
        (
            *_served_totals(),
            TableSpec(
                "tims_trafficking_type",
                "ovc_tims",
                ("trafficking_type",),
                description="OVC TIMS: clients served by type of trafficking (consenting)",
            ),
        ),
    ),
    Family(
        "served_gender",
        "served",
        ("newness", "gender"),
        ("gender",),
        (
            *_served_totals(),
            TableSpec(
                "tims_gender",
                "ovc_tims",
                ("gender",),
                description="OVC TIMS: clients served by gender (consenting)",
            ),
            _voca_new_continuing(),
            TableSpec(
                "voca_new_by_gender",
                "voca",
                ("gender",),
                where=_NEW,
                not_reported="not_reported",
                description=(
                    "VOCA: new victims by gender; sums to the new count (not reported includes "
                    "clients without consent to statistics)"
                ),
            ),
        ),
    ),
    Family(
        "served_age_band",
        "served",
        ("newness", "age_band"),
        ("age_band",),
        (
            *_served_totals(),
            _voca_new_continuing(),
            TableSpec(
                "voca_new_by_age",
                "voca",
                ("age_band",),
                where=_NEW,
                not_reported="not_tracked",
                description=(
                    "VOCA: new victims by age at intake; sums to the new count (not tracked "
                    "includes clients without consent to statistics)"
                ),
            ),
        ),
    ),
    Family(
        "entered_type",
        "entered",
        ("program", "entry_type"),
        ("entry_type",),
        (
            TableSpec(
                "tims_new_clients",
                "ovc_tims",
                (),
                mandatory=True,
                description="OVC TIMS: new clients (program entries) in the quarter",
            ),
            TableSpec(
                "tims_new_clients_ytd",
                "ovc_tims",
                (),
                period="ytd",
                mandatory=True,
                description="OVC TIMS: new clients (program entries) in the fiscal year to date",
            ),
            TableSpec(
                "otip_program_entry",
                "hhs_otip",
                ("program",),
                mandatory=True,
                description="HHS/OTIP: program entries in the quarter by program (TVAP, DVHT)",
            ),
            TableSpec(
                "otip_program_entry_type",
                "hhs_otip",
                ("program", "entry_type"),
                description="HHS/OTIP: program entries by program and type of intake (consenting)",
            ),
        ),
    ),
    Family(
        "entered_age_band",
        "entered",
        ("program", "age_band"),
        ("age_band",),
        (
            TableSpec(
                "otip_program_entry",
                "hhs_otip",
                ("program",),
                mandatory=True,
                description="HHS/OTIP: program entries in the quarter by program (TVAP, DVHT)",
            ),
            TableSpec(
                "otip_program_entry_age",
                "hhs_otip",
                ("program", "age_band"),
                description="HHS/OTIP: program entries by program and age at intake (consenting)",
            ),
        ),
    ),
    Family(
        "closed_reason",
        "closed",
        ("program", "closure_reason"),
        ("closure_reason",),
        (
            TableSpec(
                "otip_case_closures",
                "hhs_otip",
                ("program",),
                mandatory=True,
                description="HHS/OTIP: case closures in the quarter by program",
            ),
            TableSpec(
                "otip_case_closures_ytd",
                "hhs_otip",
                ("program",),
                period="ytd",
                mandatory=True,
                description="HHS/OTIP: case closures in the fiscal year to date by program",
            ),
            TableSpec(
                "otip_closure_reason",
                "hhs_otip",
                ("program", "closure_reason"),
                description="HHS/OTIP: case closures by program and reason (consenting)",
            ),
        ),
    ),
    Family(
        "closed_living_situation",
        "closed",
        ("program", "living_situation"),
        ("living_situation",),
        (
            TableSpec(
                "otip_case_closures",
                "hhs_otip",
                ("program",),
                mandatory=True,
                description="HHS/OTIP: case closures in the quarter by program",
            ),
            TableSpec(
                "otip_closure_living_situation",
                "hhs_otip",
                ("program", "living_situation"),
                description=(
                    "HHS/OTIP: case closures by program and living situation at closure "
                    "(consenting)"
                ),
            ),
        ),
    ),
    Family(
        "closed_referred_on",
        "closed",
        ("program", "referred_on"),
        ("referred_on",),
        (
            TableSpec(
                "otip_case_closures",
                "hhs_otip",
                ("program",),
                mandatory=True,
                description="HHS/OTIP: case closures in the quarter by program",
            ),
            TableSpec(
                "otip_closure_referred_on",
                "hhs_otip",
                ("program", "referred_on"),
                description=(
                    "HHS/OTIP: case closures by program, referred on for continued case management "
                    "(consenting)"
                ),
            ),
        ),
    ),
    *(
        Family(
            f"grant_year_{outcome}",
            "grant_year",
            ("program", "obtained"),
            ("obtained",),
            (
                TableSpec(
                    f"otip_obtained_{outcome}",
                    "hhs_otip",
                    ("program", "obtained"),
                    period="grant_year",
                    description=(
                        "HHS/OTIP: clients served in the grant (fiscal) year by program and "
                        f"whether they obtained {label} in it "
                        "(consenting; complete fiscal years only)"
                    ),
                ),
            ),
        )
        for outcome, label in (
            ("continued_presence", "Continued Presence"),
            ("t_visa", "a T visa"),
            ("hhs_letter", "an HHS certification or eligibility letter"),
        )
    ),
    # GBVIMS: a roll-up's unduplicated count (`domain.reporting.unduplicated`). A breakdown, so
    # consenting clients only; one small family (three cells a scope) for a small audit.
    Family(
        "served_elsewhere",
        "served",
        ("served_by_another_agency",),
        ("served_by_another_agency",),
        (
            TableSpec(
                "tims_served_by_another_agency",
                "ovc_tims",
                ("served_by_another_agency",),
                description=(
                    "Consenting clients served in the quarter, by whether they say another "
                    "agency served them (a case received by transfer: yes). Over a roll-up, "
                    "'no' is the unduplicated count (a lower bound), the total the sum of the "
                    "organisations' clients (an upper bound)"
                ),
            ),
        ),
    ),
    Family(
        "hud_q5a",
        "served",
        ("age_group", "exit"),
        (),
        (
            TableSpec(
                "hud_apr_q5a_persons",
                "hud",
                ("age_group", "exit"),
                mandatory=True,
                description=(
                    "HUD APR Q5a (comparable database aggregate): persons served by "
                    "adult / child / age not tracked and leaver / stayer"
                ),
            ),
        ),
    ),
    *SERVICE_FAMILIES,
    *OUTCOME_FAMILIES,
    Family(
        "identification",
        "screened",
        ("screening",),
        (),
        (
            TableSpec(
                "tims_screening_results",
                "ovc_tims",
                ("screening_result",),
                description=(
                    "OVC TIMS: people screened for indicators of trafficking in the quarter, by "
                    "the screening's result (one screening, one person)"
                ),
            ),
            TableSpec(
                "identification_funnel",
                "ovc_tims",
                ("funnel_stage",),
                description=(
                    "OVC TIMS identification funnel: people screened in the quarter; of them, "
                    "with indicators present or stronger; with strong indicators or confirmed; "
                    "who became clients (their screening belongs to a case served in the "
                    "quarter, consenting); who received services in the quarter (consenting)"
                ),
            ),
        ),
    ),
)

# Output tables merged from several families (their cells get the family's extra dims).
# A merged cell names its family's code first: the family's name after its prefix
# ("service_legal" -> "legal", "outcome_safety" -> "safety").
MERGED_DIMS: dict[str, str] = {
    "tims_services_by_type": "service_type",
    "tims_outcome_change": "outcome_domain",
}


def output_tables() -> list[str]:
    """Every output table name, in codebook order: the families' tables about people, then the
    activity measures (`domain.reporting.activity_measures`)."""
    names: list[str] = []
    for family in FAMILIES:
        for table in family.tables:
            if table.name not in names:
                names.append(table.name)
    return names + [table.name for table in ACTIVITY_TABLES]

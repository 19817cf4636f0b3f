"""The intake form: every member of `POST /v1/cases`'s body (`OpenCaseBody`), declared as
fields (`services.console.case_forms.Field`) in the record's sections, and the posted form
turned into that body.

One safe contact channel is offered (the API takes several; more are added on the API); an
alias is a line of its own. The worker and team are the signed-in worker's, as the API's
defaults are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.api.cases.schemas import requests as rq
from services.console import case_form_input
from services.console.case_forms import TRAFFICKING_LISTS, CaseForm, Field
from services.console.i18n import N_

DATE_HINT = N_("YYYY-MM-DD")


def _family(name: str, label: str) -> Field:
    return Field(f"intake.family_served.{name}", label, "number")


SECTIONS: tuple[tuple[str, tuple[Field, ...]], ...] = (
    (N_("Intake"), (
        Field("intake.intake_on", N_("Intake date"), "date", required=True, default="today",
              hint=DATE_HINT),
        Field("intake.intake_type", N_("Intake type"), "select", "intake_type", required=True),
        Field("intake.referral_on", N_("Referred on"), "date", hint=DATE_HINT),
        Field("intake.referral_source", N_("Referral source"), "select", "referral_source"),
        Field("intake.matched_within_48h", N_("Matched with services within 48 hours"),
              "yes_no"),
        Field("intake.served_by_another_agency",
              N_("Another agency has served the client (as the client says)"), "yes_no"),
        Field("intake.eligibility_status", N_("Eligibility"), "select", "eligibility_status",
              default="pending"),
        Field("intake.age_at_intake", N_("Age at intake (when the date of birth is unknown)"),
              "number"),
        _family("parents", N_("Family members served: parents")),
        _family("siblings", N_("Family members served: siblings")),
        _family("spouse", N_("Family members served: spouse")),
        _family("children_under_18", N_("Family members served: children under 18")),
        _family("children_18_plus", N_("Family members served: children 18 and over")),
    )),
    (N_("Victim status"), (
        Field("victim_status.status", N_("Status"), "select", "victim_status", required=True),
        Field("victim_status.determined_on", N_("Determined on"), "date", required=True,
              default="today", hint=DATE_HINT),
        Field("victim_status.determined_by", N_("Determined by"), required=True),
    )),
    (N_("Client"), (
        Field("identity.preferred_name", N_("Preferred name"), required=True),
        Field("identity.legal_name", N_("Legal name")),
        Field("identity.aliases", N_("Other names"), "lines", hint=N_("One a line")),
        Field("identity.date_of_birth", N_("Date of birth"), "date",
              hint=N_("YYYY-MM-DD, if known")),
    )),
    (N_("Safe contact"), (
        Field("contact.channel.channel", N_("How to reach the client safely"), "select",
              "contact_channel"),
        Field("contact.channel.detail", N_("Number, address or advocate")),
        Field("contact.channel.safe_times", N_("Safe times")),
        Field("contact.channel.may_leave_message", N_("A message may be left"), "check"),
        Field("contact.code_word", N_("Code word")),
        Field("contact.notes", N_("Safety notes"), "textarea"),
    )),
    (N_("Demographics"), (
        Field("demographics.gender_identity", N_("Gender identity"), "select",
              "gender_identity", default="not_reported"),
        Field("demographics.lgbtq", N_("LGBTQ+"), "select", "yes_no_unknown",
              default="unknown"),
        Field("demographics.race_ethnicity", N_("Race and ethnicity"), "checks",
              "race_ethnicity"),
        Field("demographics.disabilities", N_("Disabilities"), "checks", "disability"),
        Field("demographics.citizenship", N_("Citizenship"), "select", "citizenship"),
        Field("demographics.preferred_language", N_("Preferred language"),
              hint=N_("An ISO 639 code, such as es or zh")),
        Field("demographics.interpreter_needed", N_("An interpreter is needed"), "check"),
    )),
    (N_("Trafficking"), (
        Field("trafficking.trafficking_type", N_("Trafficking type"), "select",
              "trafficking_type", required=True),
        Field("trafficking.commercial_sex_act", N_("A commercial sex act took place"), "check"),
        *(Field(f"trafficking.{name}", label, "checks", codes)
          for name, (label, codes) in TRAFFICKING_LISTS.items()),
        Field("trafficking.recruitment_location", N_("Where the client was recruited")),
        Field("trafficking.exploitation_location", N_("Where the client was exploited")),
        Field("trafficking.narrative", N_("Narrative"), "textarea"),
    )),
)  # fmt: skip

INTAKE = CaseForm(
    "intake", N_("Open a case (intake)"), N_("Open the case"), rq.OpenCaseBody,
    tuple(field for _, fields in SECTIONS for field in fields),
)  # fmt: skip
CHANNEL = "contact.channel."


def _channels(members: dict[str, Any]) -> dict[str, Any]:
    """The one contact channel the form offers, as the body's list of channels."""
    contact = members.get("contact", {})
    channel = contact.pop("channel", {})
    if channel.get("channel") is not None:
        contact["channels"] = [channel]
    return members


def parsed(posted: Mapping[str, str]) -> tuple[rq.OpenCaseBody | None, dict[str, str]]:
    """The intake body, or the messages by field pointer of what it breaks."""
    filled = {k: v for k, v in posted.items() if not k.startswith(CHANNEL) or v.strip()}
    if any(k.startswith(CHANNEL) for k in filled) and not filled.get(CHANNEL + "channel"):
        return None, {"/contact/channel/channel": N_("Choose how to reach the client.")}
    return case_form_input.parsed(INTAKE, posted, shape=_channels)

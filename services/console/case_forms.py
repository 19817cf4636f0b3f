"""The case page's command forms, declared from one table (as the API's `COMMANDS`): each row
names the API's request body (`services.api.cases.schemas.requests`, the contract), the
`Action` authorisation decides on, and the form's fields; the pages build every form, and
turn every submission into its body, from the row alone.

A field is named by the body member it fills (dots nest: `scores.safety`), or by the path's
id for a command on one consent, referral or goal (`named`). Codebook lists are `<select>`s
of their labels; a list of several codes is a group of checkboxes (`checks`); a yes/no member
is a checkbox (`check`) or, when it must be answered, a yes/no select (`yes_no`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import msgspec

from domain.case import commands as cmd
from domain.case.lifecycles import IMMIGRATION_MACHINES, REFERRAL_TRANSITIONS
from domain.screening.screening import ScreeningRecorded
from services.api.cases.schemas import requests as rq
from services.api.cases.schemas.views import CaseView
from services.authorisation import Action
from services.console import forms
from services.console.i18n import N_, translate
from services.console.screening_form import RESULT_LABELS, SETTING_LABELS
from services.identity import Principal

Choices = list[tuple[str, str]]
# Choices read from the case itself (what this reader sees of it), by name.
CASE_CHOICES = frozenset({"consents", "open_referrals", "open_goals", "milestones", "screenings"})


def _words(code: str) -> str:
    return code.replace("_", " ").capitalize()


def _literal(*codes: str) -> Choices:
    return [(code, _words(code)) for code in codes]


REFERRAL_STATUSES = _literal(*(s for s in REFERRAL_TRANSITIONS if s != "proposed"))
IMMIGRATION_STEPS = _literal(
    *sorted(set().union(*(machine.states for machine in IMMIGRATION_MACHINES.values())))
)
YES_NO = [("yes", N_("Yes")), ("no", N_("No"))]
CONSENT_METHODS = _literal("written", "oral")
# The choices the console words from codes itself (the catalogue holds their translations).
LITERAL_CHOICES = (*REFERRAL_STATUSES, *IMMIGRATION_STEPS, *CONSENT_METHODS, *YES_NO)
OUTCOME_SCORES = [(str(n), f"{n}") for n in range(1, 6)]


class Field(NamedTuple):
    name: str
    label: str
    kind: str = "text"  # text, textarea, date, number, select, checks, check, yes_no
    options: str | Choices | None = None  # a codebook list, a case's choices, or literal ones
    required: bool = False
    default: str | None = None  # "today", or a literal
    hint: str | None = None


class CaseForm(NamedTuple):
    name: str  # the form's address segment and its element ids
    title: str
    button: str
    body: type[msgspec.Struct]
    fields: tuple[Field, ...]
    action: Action = Action.CASE_COMMAND
    named: str | None = None  # the field naming the path's id (a consent, a referral, a goal)
    fresh: tuple[str, str] | None = None  # (member, prefix) of a new id the form carries
    # else body.command() or body.command(named)
    command: Callable[[Any, str | None, Principal], cmd.Command] | None = None
    current: Callable[[CaseView], dict[str, str]] | None = None  # its values from the case

    def command_of(self, body: Any, named: str | None, principal: Principal) -> cmd.Command:
        if self.command is not None:
            return self.command(body, named, principal)
        return body.command() if self.named is None else body.command(named)


def _today(name: str, label: str) -> Field:
    return Field(name, label, "date", required=True, default="today", hint=N_("YYYY-MM-DD"))


def _trafficking_now(case: CaseView) -> dict[str, str]:
    """The trafficking context form filled with the case's context (the form replaces it
    whole, so what it does not change must be there)."""
    context = case.trafficking
    if context is None:
        return {}
    values = {"trafficking_type": context.trafficking_type}
    if context.commercial_sex_act:
        values["commercial_sex_act"] = "yes"
    for name in TRAFFICKING_LISTS:
        values.update({f"{name}.{code}": "yes" for code in getattr(context, name)})
    for name in ("recruitment_location", "exploitation_location", "narrative"):
        if getattr(context, name):
            values[name] = getattr(context, name)
    return values


TRAFFICKING_LISTS = {
    "recruitment": (N_("How the client was recruited"), "recruitment_method"),
    "control_methods": (N_("Means of control"), "control_method"),
    "labor_industries": (N_("Labour industries"), "labor_industry"),
    "sex_exploitation": (N_("Forms of sexual exploitation"), "sex_exploitation"),
    "vulnerabilities": (N_("Vulnerabilities"), "vulnerability"),
}


CASE_FORMS = (
    CaseForm(
        "consent", N_("Record a release of information"), N_("Record the consent"),
        rq.GrantConsentBody,
        (
            Field("recipient_organisation", N_("Recipient organisation (its id)"), required=True),
            Field("purpose", N_("Purpose"), "select", "consent_purpose", required=True),
            Field("data_categories", N_("Data categories released"), "checks", "data_category"),
            _today("signed_on", N_("Signed on")),
            _today("starts_on", N_("Starts on")),
            Field("expires_on", N_("Expires on"), "date", required=True, hint=N_("YYYY-MM-DD")),
            Field("signed_by", N_("Signed by"), default="client"),
            Field("written", N_("The consent is written"), "check"),
            Field("revocation_explained", N_("The right to revoke it was explained"), "check"),
        ),
        fresh=("consent_id", "consent"),
    ),
    CaseForm(
        "consent-revocation", N_("Revoke a consent"), N_("Revoke the consent"),
        rq.RevokeConsentBody,
        (
            Field("consent_id", N_("Consent"), "select", "consents", required=True),
            _today("revoked_on", N_("Revoked on")),
            Field("method", N_("How"), "select", CONSENT_METHODS, required=True),
        ),
        named="consent_id",
    ),
    CaseForm(
        "referral-status", N_("Update a referral"), N_("Update the referral"),
        rq.UpdateReferralBody,
        (
            Field("referral_id", N_("Referral"), "select", "open_referrals", required=True),
            Field("status", N_("New status"), "select", REFERRAL_STATUSES, required=True),
            _today("changed_on", N_("Changed on")),
            Field(
                "reason", N_("Reason (declined or revoked only)"), "select",
                forms.choices("decline_reason") + forms.choices("revoke_reason"),
            ),
        ),
        named="referral_id",
    ),
    CaseForm(
        "outcome", N_("Record an outcome assessment"), N_("Record the assessment"),
        rq.AssessOutcomeBody,
        (
            _today("assessed_on", N_("Assessed on")),
            *(
                Field(f"scores.{code}", text, "select", OUTCOME_SCORES,
                      hint=N_("1 crisis to 5 thriving"))
                for code, text in forms.choices("outcome_domain")
            ),
        ),
        fresh=("assessment_id", "outcome"),
    ),
    CaseForm(
        "immigration", N_("Record an immigration step (assigned worker only)"),
        N_("Record the step"),
        rq.ImmigrationStepBody,
        (
            Field("milestone_id", N_("Milestone"), "select", "milestones", required=True),
            Field("kind", N_("Kind"), "select", "immigration_kind", required=True),
            Field("step", N_("Step"), "select", IMMIGRATION_STEPS, required=True),
            _today("on", N_("On")),
            Field("family_relation", N_("Family relation (derivatives only)"), "select",
                  "family_relation"),
            Field("receipt_number", N_("Receipt number")),
            Field("expires_on", N_("Expires on (a grant of Continued Presence)"), "date"),
        ),
        action=Action.CASE_IMMIGRATION,
    ),
    CaseForm(
        "trafficking-context", N_("Revise the trafficking context"),
        N_("Record the context"), rq.TraffickingContextBody,
        (
            Field("trafficking_type", N_("Trafficking type"), "select", "trafficking_type",
                  required=True),
            Field("commercial_sex_act", N_("A commercial sex act took place"), "check"),
            *(Field(name, label, "checks", codes)
              for name, (label, codes) in TRAFFICKING_LISTS.items()),
            Field("recruitment_location", N_("Where the client was recruited")),
            Field("exploitation_location", N_("Where the client was exploited")),
            Field("narrative", N_("Narrative"), "textarea"),
        ),
        current=_trafficking_now,
    ),
    CaseForm(
        "needs", N_("Record a needs assessment"), N_("Record the needs"), rq.AssessNeedsBody,
        (
            _today("assessed_on", N_("Assessed on")),
            Field("needs", N_("Needs"), "checks", "service_category"),
            Field("notes", N_("Notes")),
        ),
        fresh=("assessment_id", "needs"),
    ),
    CaseForm(
        "goal", N_("Add a goal"), N_("Add the goal"), rq.SetGoalBody,
        (
            Field("category", N_("Service category"), "select", "service_category", required=True),
            Field("description", N_("Description"), required=True),
            _today("set_on", N_("Set on")),
            Field("target_on", N_("Target date"), "date", hint=N_("YYYY-MM-DD, if any")),
        ),
        fresh=("goal_id", "goal"),
    ),
    CaseForm(
        "goal-status", N_("Change a goal's status"), N_("Change the status"),
        rq.ChangeGoalStatusBody,
        (
            Field("goal_id", N_("Goal"), "select", "open_goals", required=True),
            Field("status", N_("New status"), "select", "goal_status", required=True),
            _today("changed_on", N_("Changed on")),
        ),
        named="goal_id",
    ),
    CaseForm(
        "victim-status", N_("Determine victim status"), N_("Record the determination"),
        rq.VictimStatusBody,
        (
            Field("status", N_("Status"), "select", "victim_status", required=True),
            _today("determined_on", N_("Determined on")),
            Field("determined_by", N_("Determined by"), required=True),
            Field("screening_ids", N_("Screenings behind the determination"), "checks",
                  "screenings"),
        ),
    ),
    CaseForm(
        "statistics-consent", N_("Statistics consent"), N_("Record the answer"),
        rq.StatisticsConsentBody,
        (
            Field("agrees", N_("The client agrees to be counted in de-identified statistics"),
                  "yes_no", required=True),
            _today("recorded_on", N_("Recorded on")),
        ),
    ),
    CaseForm(
        "closure", N_("Close the case"), N_("Close the case"), rq.CloseCaseBody,
        (
            _today("closed_on", N_("Closed on")),
            Field("reason", N_("Reason"), "select", "closure_reason", required=True),
            Field("living_situation", N_("Living situation"), "select", "living_situation",
                  required=True),
            Field("obtained_continued_presence", N_("Obtained Continued Presence"), "check"),
            Field("obtained_t_visa", N_("Obtained a T visa"), "check"),
            Field("obtained_hhs_letter", N_("Obtained an HHS letter"), "check"),
            Field("referred_for_case_management", N_("Referred for case management"), "check"),
        ),
        action=Action.CASE_CLOSE,
    ),
    CaseForm(
        "reopening", N_("Reopen the case"), N_("Reopen the case"), rq.ReopenCaseBody,
        (_today("reopened_on", N_("Reopened on")), Field("reason", N_("Reason"))),
        action=Action.CASE_CLOSE,
    ),
)  # fmt: skip
FORMS_BY_NAME = {form.name: form for form in CASE_FORMS}
# A supervisor's reassignment, on the team page (a supervisor does not read the case itself).
ASSIGNMENT = CaseForm(
    "assignment", N_("Reassign a case within my team"), N_("Reassign the case"),
    rq.AssignCaseBody,
    (
        Field("worker_id", N_("Worker to take the case (their id)"), required=True),
        _today("assigned_on", N_("Assigned on")),
    ),
    action=Action.CASE_ASSIGN,
    command=lambda body, _, principal: body.command(principal.team_id),
)  # fmt: skip


def case_choices(
    case: CaseView,
    fresh_milestone: str,
    language: str,
    screenings: Sequence[ScreeningRecorded] = (),
) -> dict[str, Choices]:
    """The choices a form takes from the case (what this reader sees of it), in `language`."""

    def label(list_name: str, code: str) -> str:
        return translate(language, forms.label(list_name, code))

    def words(code: str) -> str:
        return translate(language, _words(code))

    milestones = [
        (m.milestone_id, f"{label('immigration_kind', m.kind)}: {words(m.step)} ({m.on})")
        for m in case.immigration or ()
    ]
    return {
        "consents": [
            (c.consent_id, translate(
                language, N_("%(recipient)s, %(purpose)s, until %(expires)s"),
                recipient=c.recipient_organisation,
                purpose=label("consent_purpose", c.purpose), expires=c.expires_on,
            ))
            for c in case.consents
            if c.revoked_on is None
        ],
        "open_referrals": [
            (r.referral_id, translate(
                language, N_("%(category)s to %(recipient)s (%(status)s)"),
                category=label("service_category", r.category), recipient=r.recipient,
                status=words(r.status),
            ))
            for r in case.referrals
            if REFERRAL_TRANSITIONS.get(r.status)
        ],
        "open_goals": [
            (g.goal_id, f"{g.description} ({label('goal_status', g.status)})")
            for g in case.goals
            if g.status not in ("achieved", "discontinued")
        ],
        "milestones": [*milestones, (fresh_milestone, translate(language, N_("A new milestone")))],
        "screenings": [
            (s.screening_id, translate(
                language, N_("%(day)s, %(setting)s: %(result)s"), day=s.screened_on,
                setting=translate(language, SETTING_LABELS.get(s.setting, s.setting)),
                result=translate(language, RESULT_LABELS.get(s.result, s.result)),
            ))
            for s in screenings
        ],
    }  # fmt: skip


def options(field: Field, from_case: Mapping[str, Choices], language: str) -> Choices:
    """A select's or a checkbox group's (code, text) pairs, in `language`."""
    if isinstance(field.options, list):
        found = field.options
    elif field.options in CASE_CHOICES:
        return list(from_case[field.options])
    else:
        found = forms.choices(field.options) if field.options else []
    return [(code, translate(language, text)) for code, text in found]


def defaults(form: CaseForm, today: str) -> dict[str, str]:
    """The values a fresh form shows: today's dates, literal defaults and a new id."""
    values = {
        f.name: today if f.default == "today" else f.default
        for f in form.fields
        if f.default is not None
    }
    if form.fresh is not None:
        values[form.fresh[0]] = forms.new_id(form.fresh[1])
    return values


def page_context(case: CaseView, screenings: Sequence[ScreeningRecorded] = ()) -> dict[str, Any]:
    """What the case page needs to render the table's forms (`screenings`: the case's, which
    its victim-status determination may name)."""
    today = forms.today()
    fresh_milestone = forms.new_id("milestone")
    from_case = functools.cache(
        lambda language: case_choices(case, fresh_milestone, language, screenings)
    )
    return {
        "command_forms": CASE_FORMS,
        "form_defaults": {
            form.name: defaults(form, today) | (form.current(case) if form.current else {})
            for form in CASE_FORMS
        },
        "form_options": lambda field, language: options(field, from_case(language), language),
        "yes_no": YES_NO,
        "form_key": forms.new_key(),
    }

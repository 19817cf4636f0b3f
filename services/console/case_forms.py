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

import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import msgspec

from domain.case import commands as cmd
from domain.case.lifecycles import IMMIGRATION_MACHINES, REFERRAL_TRANSITIONS
from services.api.cases.schemas import requests as rq
from services.api.cases.schemas.views import CaseView
from services.authorisation import Action
from services.console import forms

Choices = list[tuple[str, str]]
_MISSING = re.compile(r"^Object missing required field `[a-z_]+`$")
# Choices read from the case itself (what this reader sees of it), by name.
CASE_CHOICES = frozenset({"consents", "open_referrals", "open_goals", "milestones"})


def _words(code: str) -> str:
    return code.replace("_", " ").capitalize()


def _literal(*codes: str) -> Choices:
    return [(code, _words(code)) for code in codes]


REFERRAL_STATUSES = _literal(*(s for s in REFERRAL_TRANSITIONS if s != "proposed"))
IMMIGRATION_STEPS = _literal(
    *sorted(set().union(*(machine.states for machine in IMMIGRATION_MACHINES.values())))
)
OUTCOME_SCORES = [(str(n), f"{n}") for n in range(1, 6)]


class Field(NamedTuple):
    name: str
    label: str
    kind: str = "text"  # text, date, number, select, checks, check, yes_no
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
    command: Callable[[Any, str | None], cmd.Command] | None = None  # else body.command(...)

    def command_of(self, body: Any, named: str | None) -> cmd.Command:
        if self.command is not None:
            return self.command(body, named)
        return body.command() if self.named is None else body.command(named)


def _today(name: str, label: str) -> Field:
    return Field(name, label, "date", required=True, default="today", hint="YYYY-MM-DD")


CASE_FORMS = (
    CaseForm(
        "consent", "Record a release of information", "Record the consent", rq.GrantConsentBody,
        (
            Field("recipient_organisation", "Recipient organisation (its id)", required=True),
            Field("purpose", "Purpose", "select", "consent_purpose", required=True),
            Field("data_categories", "Data categories released", "checks", "data_category"),
            _today("signed_on", "Signed on"),
            _today("starts_on", "Starts on"),
            Field("expires_on", "Expires on", "date", required=True, hint="YYYY-MM-DD"),
            Field("signed_by", "Signed by", default="client"),
            Field("written", "The consent is written", "check"),
            Field("revocation_explained", "The right to revoke it was explained", "check"),
        ),
        fresh=("consent_id", "consent"),
    ),
    CaseForm(
        "consent-revocation", "Revoke a consent", "Revoke the consent", rq.RevokeConsentBody,
        (
            Field("consent_id", "Consent", "select", "consents", required=True),
            _today("revoked_on", "Revoked on"),
            Field("method", "How", "select", _literal("written", "oral"), required=True),
        ),
        named="consent_id",
    ),
    CaseForm(
        "referral-status", "Update a referral", "Update the referral", rq.UpdateReferralBody,
        (
            Field("referral_id", "Referral", "select", "open_referrals", required=True),
            Field("status", "New status", "select", REFERRAL_STATUSES, required=True),
            _today("changed_on", "Changed on"),
            Field(
                "reason", "Reason (declined or revoked only)", "select",
                forms.choices("decline_reason") + forms.choices("revoke_reason"),
            ),
        ),
        named="referral_id",
    ),
    CaseForm(
        "outcome", "Record an outcome assessment", "Record the assessment",
        rq.AssessOutcomeBody,
        (
            _today("assessed_on", "Assessed on"),
            *(
                Field(f"scores.{code}", f"{text} (1 crisis to 5 thriving)", "select",
                      OUTCOME_SCORES)
                for code, text in forms.choices("outcome_domain")
            ),
        ),
        fresh=("assessment_id", "outcome"),
    ),
    CaseForm(
        "immigration", "Record an immigration step (assigned worker only)", "Record the step",
        rq.ImmigrationStepBody,
        (
            Field("milestone_id", "Milestone", "select", "milestones", required=True),
            Field("kind", "Kind", "select", "immigration_kind", required=True),
            Field("step", "Step", "select", IMMIGRATION_STEPS, required=True),
            _today("on", "On"),
            Field("family_relation", "Family relation (derivatives only)", "select",
                  "family_relation"),
            Field("receipt_number", "Receipt number"),
            Field("expires_on", "Expires on (a grant of Continued Presence)", "date"),
        ),
        action=Action.CASE_IMMIGRATION,
    ),
    CaseForm(
        "needs", "Record a needs assessment", "Record the needs", rq.AssessNeedsBody,
        (
            _today("assessed_on", "Assessed on"),
            Field("needs", "Needs", "checks", "service_category"),
            Field("notes", "Notes"),
        ),
        fresh=("assessment_id", "needs"),
    ),
    CaseForm(
        "goal", "Add a goal", "Add the goal", rq.SetGoalBody,
        (
            Field("category", "Service category", "select", "service_category", required=True),
            Field("description", "Description", required=True),
            _today("set_on", "Set on"),
            Field("target_on", "Target date", "date", hint="YYYY-MM-DD, if any"),
        ),
        fresh=("goal_id", "goal"),
    ),
    CaseForm(
        "goal-status", "Change a goal's status", "Change the status", rq.ChangeGoalStatusBody,
        (
            Field("goal_id", "Goal", "select", "open_goals", required=True),
            Field("status", "New status", "select", "goal_status", required=True),
            _today("changed_on", "Changed on"),
        ),
        named="goal_id",
    ),
    CaseForm(
        "victim-status", "Determine victim status", "Record the determination",
        rq.VictimStatusBody,
        (
            Field("status", "Status", "select", "victim_status", required=True),
            _today("determined_on", "Determined on"),
            Field("determined_by", "Determined by", required=True),
        ),
    ),
    CaseForm(
        "statistics-consent", "Statistics consent", "Record the answer",
        rq.StatisticsConsentBody,
        (
            Field("agrees", "The client agrees to be counted in de-identified statistics",
                  "yes_no", required=True),
            _today("recorded_on", "Recorded on"),
        ),
    ),
    CaseForm(
        "transfer", "Ask another organisation to take the case over (assigned worker only)",
        "Ask for the transfer", rq.TransferCaseBody,
        (
            Field("recipient_organisation", "Receiving organisation (its id)", required=True),
            Field("consent_id", "Consent (purpose: case transfer)", "select", "consents",
                  required=True),
            _today("requested_on", "Requested on"),
            Field("receiving_worker_id", "Receiving worker", required=True),
            Field("receiving_team_id", "Receiving team", required=True),
            Field("living_situation", "Living situation", "select", "living_situation",
                  default="unknown"),
        ),
        action=Action.CASE_TRANSFER,
        command=lambda body, _: body.command(str(uuid.uuid4())),  # the receiving case's id
    ),
    CaseForm(
        "closure", "Close the case", "Close the case", rq.CloseCaseBody,
        (
            _today("closed_on", "Closed on"),
            Field("reason", "Reason", "select", "closure_reason", required=True),
            Field("living_situation", "Living situation", "select", "living_situation",
                  required=True),
            Field("obtained_continued_presence", "Obtained Continued Presence", "check"),
            Field("obtained_t_visa", "Obtained a T visa", "check"),
            Field("obtained_hhs_letter", "Obtained an HHS letter", "check"),
            Field("referred_for_case_management", "Referred for case management", "check"),
        ),
        action=Action.CASE_CLOSE,
    ),
    CaseForm(
        "reopening", "Reopen the case", "Reopen the case", rq.ReopenCaseBody,
        (_today("reopened_on", "Reopened on"), Field("reason", "Reason")),
        action=Action.CASE_CLOSE,
    ),
)  # fmt: skip
FORMS_BY_NAME = {form.name: form for form in CASE_FORMS}


def case_choices(case: CaseView, fresh_milestone: str) -> dict[str, Choices]:
    """The choices a form takes from the case: what this reader sees of it."""
    purpose = forms.label
    milestones = [
        (m.milestone_id, f"{purpose('immigration_kind', m.kind)}: {_words(m.step)} ({m.on})")
        for m in case.immigration or ()
    ]
    return {
        "consents": [
            (c.consent_id, f"{c.recipient_organisation}, "
             f"{purpose('consent_purpose', c.purpose)}, until {c.expires_on}")
            for c in case.consents
            if c.revoked_on is None
        ],
        "open_referrals": [
            (r.referral_id, f"{purpose('service_category', r.category)} to {r.recipient} "
             f"({_words(r.status)})")
            for r in case.referrals
            if REFERRAL_TRANSITIONS.get(r.status)
        ],
        "open_goals": [
            (g.goal_id, f"{g.description} ({purpose('goal_status', g.status)})")
            for g in case.goals
            if g.status not in ("achieved", "discontinued")
        ],
        "milestones": [*milestones, (fresh_milestone, "A new milestone")],
    }  # fmt: skip


def options(field: Field, from_case: Mapping[str, Choices]) -> Choices:
    if isinstance(field.options, list):
        return field.options
    if field.options in CASE_CHOICES:
        return list(from_case[field.options])
    return forms.choices(field.options) if field.options else []


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


def _value(field: Field, form: Mapping[str, str]) -> Any:
    """The member a field fills from the posted form; None when left empty."""
    if field.kind == "check":
        return field.name in form
    if field.kind == "checks":
        codes = [code for code, _ in forms.choices(str(field.options))]
        return [code for code in codes if f"{field.name}.{code}" in form] or None
    raw = form.get(field.name, "").strip()
    if not raw:
        return None
    if field.kind == "yes_no":
        return {"yes": True, "no": False}.get(raw, raw)
    if field.kind == "number" or field.options is OUTCOME_SCORES:
        return int(raw) if raw.isdigit() and len(raw) < 10 else raw
    return raw


def parsed(form: CaseForm, posted: Mapping[str, str]) -> tuple[Any, dict[str, str]]:
    """The form's body, or the messages by field pointer of what it breaks."""
    members: dict[str, Any] = {}
    missing = {}
    for field in form.fields:
        value = _value(field, posted)
        if value is None:
            if field.required:
                missing[forms.pointer(field.name)] = "Fill this in."
            continue
        if field.name == form.named:
            continue
        place = members
        *parents, name = field.name.split(".")
        for parent in parents:
            place = place.setdefault(parent, {})
        place[name] = value
    if missing:
        return None, missing
    if form.fresh is not None:
        members[form.fresh[0]] = posted.get(form.fresh[0], "")
    try:
        return msgspec.convert(members, form.body), {}
    except msgspec.ValidationError as error:
        where, message = forms.conversion_fault(error)
        missing_member = _MISSING.search(str(error))
        if missing_member is not None:  # a member filled by several fields, all left empty
            return None, {"": "Fill in at least one of the fields below."}
        return None, {_owner(form, where): message}


def _owner(form: CaseForm, where: str) -> str:
    """The pointer of the field a fault belongs to (a member below a field is the field's);
    "" for none, shown above the form."""
    for field in form.fields:
        mine = forms.pointer(field.name)
        if where == mine or where.startswith(mine + "/"):
            return mine
    return ""


def field_errors(form: CaseForm, faults: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Messages by field pointer of the write path's (pointer, rule) faults."""
    errors: dict[str, str] = {}
    for where, rule in faults:
        errors.setdefault(_owner(form, where), f"This {rule}.")
    return errors


def page_context(case: CaseView) -> dict[str, Any]:
    """What the case page needs to render the table's forms."""
    today = forms.today()
    from_case = case_choices(case, forms.new_id("milestone"))
    return {
        "command_forms": CASE_FORMS,
        "form_defaults": {form.name: defaults(form, today) for form in CASE_FORMS},
        "form_options": lambda field: options(field, from_case),
        "form_key": forms.new_key(),
    }

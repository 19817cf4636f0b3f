"""What a case command form posts, turned into its request body (`services.console.case_forms`
declares the forms): each field's member, the body's own rules, and the faults the write path
names, each placed at the field it belongs to."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgspec

from domain.text import text_faults
from services.console import forms
from services.console.case_forms import CASE_CHOICES, OUTCOME_SCORES, CaseForm, Field
from services.console.i18n import N_

_MISSING = re.compile(r"^Object missing required field `[a-z_]+`$")


def _value(field: Field, form: Mapping[str, str]) -> Any:
    """The member a field fills from the posted form; None when left empty."""
    if field.kind == "check":
        return field.name in form
    if field.kind == "checks" and field.options in CASE_CHOICES:  # the case's own, as posted
        prefix = f"{field.name}."
        return [key.removeprefix(prefix) for key in form if key.startswith(prefix)] or None
    if field.kind == "checks":
        codes = [code for code, _ in forms.choices(str(field.options))]
        return [code for code in codes if f"{field.name}.{code}" in form] or None
    raw = form.get(field.name, "").strip()
    if not raw:
        return None
    if field.kind == "yes_no":
        return {"yes": True, "no": False}.get(raw, raw)
    if field.kind == "lines":
        return [line.strip() for line in raw.splitlines() if line.strip()]
    if field.kind == "number" or field.options is OUTCOME_SCORES:
        return int(raw) if raw.isdigit() and len(raw) < 10 else raw
    return raw


def parsed(
    form: CaseForm,
    posted: Mapping[str, str],
    shape: Callable[[dict[str, Any]], dict[str, Any]] = lambda members: members,
) -> tuple[Any, dict[str, str]]:
    """The form's body (its members as `shape` leaves them), or the messages by field
    pointer of what it breaks, the body's text rules included."""
    members: dict[str, Any] = {}
    missing = {}
    for field in form.fields:
        value = _value(field, posted)
        if value is None:
            if field.required:
                missing[forms.pointer(field.name)] = N_("Fill this in.")
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
        body = msgspec.convert(shape(members), form.body)
    except msgspec.ValidationError as error:
        where, message = forms.conversion_fault(error)
        missing_member = _MISSING.search(str(error))
        if missing_member is not None:  # a member filled by several fields, all left empty
            return None, {"": N_("Fill in at least one of the fields below.")}
        return None, {_owner(form, where): message}
    faults = field_errors(form, text_faults(body))
    return (None, faults) if faults else (body, {})


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

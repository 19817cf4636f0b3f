"""The console's forms as the API's request bodies: the same strict types, the same rules.

A form's fields are named by the body member they fill, in JSON Pointer form with dots
(`intake.intake_on`); a field left empty is a member left out (its default applies). What a
body breaks comes back as (pointer, message) pairs, the API's `validation-error` pointers,
which the pages show next to the field they name.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import msgspec

from domain.codebook import CURRENT
from domain.text import text_faults
from events import idempotency
from services.commands.unit_of_work import Idempotency
from services.console.i18n import N_

B = TypeVar("B", bound=msgspec.Struct)
ENCODE = msgspec.json.Encoder().encode
_AT = re.compile(r" - at `\$((?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*)`$")
_UNKNOWN_FIELD = re.compile(r"unknown field `.*?`")
MAX_KEY = 100

SERVICE_FIELDS = ("category", "delivered_on", "units", "minutes", "notes")
REFERRAL_FIELDS = ("kind", "category", "recipient", "purpose", "proposed_on", "notes")
INTEGERS = frozenset({"units", "minutes"})
REQUIRED = frozenset(
    {
        "category",
        "delivered_on",
        "kind",
        "recipient",
        "purpose",
        "proposed_on",
    }
)


def choices(list_name: str) -> list[tuple[str, str]]:
    """(code, label) of a codebook list, for a select."""
    return sorted(CURRENT.lists[list_name].items(), key=lambda item: item[1])


def label(list_name: str, code: str) -> str:
    """A code's label in the current codebook; the code itself when this version has none
    (a code of an earlier version, which stored events may still hold)."""
    return CURRENT.lists.get(list_name, {}).get(code, code)


def codebook_labels() -> set[str]:
    """Every label of the current codebook (the catalogue holds their translations)."""
    return {text for entries in CURRENT.lists.values() for text in entries.values()}


def pointer(field: str) -> str:
    return "/" + field.replace(".", "/")


def nested(form: Mapping[str, str], fields: Iterable[str]) -> tuple[dict[str, Any], list[str]]:
    """The body a form fills, and the required fields it left empty."""
    body: dict[str, Any] = {}
    missing = []
    for field in fields:
        value = form.get(field, "").strip()
        if not value:
            if field in REQUIRED:
                missing.append(field)
            continue
        place = body
        *parents, name = field.split(".")
        for parent in parents:
            place = place.setdefault(parent, {})
        place[name] = int(value) if name in INTEGERS and value.lstrip("-").isdigit() else value
    return body, missing


def parsed(
    body_type: type[B], form: Mapping[str, str], fields: Iterable[str], **extra: Any
) -> tuple[B | None, dict[str, str]]:
    """The form as the body type, or the messages by pointer of what it breaks."""
    members, missing = nested(form, fields)
    if missing:
        return None, {pointer(field): N_("Fill this in.") for field in missing}
    try:
        body = msgspec.convert({**members, **extra}, body_type)
    except msgspec.ValidationError as error:
        return None, dict([conversion_fault(error)])
    faults = {where: f"This {rule}." for where, rule in text_faults(body)}
    return (None, faults) if faults else (body, {})


def conversion_fault(error: msgspec.ValidationError) -> tuple[str, str]:
    """(pointer, message) of what a converted body breaks."""
    return _pointer_of(str(error)), _message_of(str(error))


def _pointer_of(message: str) -> str:
    matched = _AT.search(message)
    path = matched.group(1) if matched else ""
    return "".join("/" + part for part in re.findall(r"[A-Za-z_][A-Za-z0-9_]*|\d+", path))


def _message_of(message: str) -> str:
    text = _AT.sub("", _UNKNOWN_FIELD.sub("unknown field", message))
    if "RFC3339" in text:
        return N_("Enter a date as YYYY-MM-DD.")
    if text.startswith("Expected `int`"):
        return N_("Enter a whole number.")
    return text[:1].upper() + text[1:] + "."


def form_idempotency(form: Mapping[str, str], path: str, body: msgspec.Struct) -> Idempotency:
    """The form's own key (set when it was rendered, so a second submission of the same form
    gets the first answer), hashed with what it asks."""
    key = form.get("idempotency_key", "")
    valid = 0 < len(key) <= MAX_KEY and key.isprintable() and not key.isspace()
    return Idempotency(key if valid else None, idempotency.request_hash("POST", path, ENCODE(body)))


def new_key() -> str:
    return str(uuid.uuid4())


def today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"

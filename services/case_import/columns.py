"""The columns of a case import and one row turned into the intake's request body.

The columns are the members of `POST /v1/cases`'s body (`OpenCaseBody`, the contract), read
from its type and named by their path with dots (`intake.intake_on`, `identity.preferred_name`),
as the console's intake form names its fields: a member added to the body is a column at once.
A list of codes or names is one cell, its items separated by `;`. The body takes several safe
contact channels; an import takes one (`contact.channel.*`). Screenings behind a victim-status
determination are Haven's own records, so no column names them. Besides them, `import_ref`: the
row's reference in the system it comes from, which makes re-running an import harmless.

A fault is named by its column and a fixed sentence; a cell's value is never repeated (a value
typed into the wrong column could be anything).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple

import msgspec
import msgspec.inspect as mi

from domain.identifiers import is_identifier
from domain.text import text_faults
from services.api.cases.schemas.requests import OpenCaseBody

Kind = Literal["text", "number", "yes_no", "date", "list"]
IMPORT_REF = "import_ref"
MAX_IMPORT_REF = 200
LIST_SEPARATOR = ";"
CHANNELS = "contact.channels"
CHANNEL = "contact.channel"  # the one channel a row carries, as the console's form does
# Members naming records kept in Haven itself (a screening recorded here): not a file's to name.
NOT_IMPORTED = frozenset({"victim_status.screening_ids"})


class Column(NamedTuple):
    name: str
    kind: Kind
    required: bool


def _kind(info: mi.Type) -> Kind:
    if isinstance(info, mi.UnionType):
        (info,) = (t for t in info.types if not isinstance(t, mi.NoneType))
    if isinstance(info, mi.IntType):
        return "number"
    if isinstance(info, mi.BoolType):
        return "yes_no"
    if isinstance(info, mi.DateType):
        return "date"
    if isinstance(info, (mi.VarTupleType, mi.ListType)):
        return "list"
    return "text"


def _columns(struct: mi.StructType, prefix: str, required: bool) -> list[Column]:
    columns = []
    for field in struct.fields:
        name = f"{prefix}{field.name}"
        info = field.type
        if isinstance(info, mi.VarTupleType) and isinstance(info.item_type, mi.StructType):
            own = CHANNEL if name == CHANNELS else name
            columns += _columns(info.item_type, f"{own}.", False)
        elif isinstance(info, mi.StructType):
            columns += _columns(info, f"{name}.", required and field.required)
        elif name not in NOT_IMPORTED:
            columns.append(Column(name, _kind(info), required and field.required))
    return columns


COLUMNS: tuple[Column, ...] = (
    Column(IMPORT_REF, "text", True),
    *_columns(mi.type_info(OpenCaseBody), "", True),  # type: ignore[arg-type]
)
BY_NAME: Mapping[str, Column] = {column.name: column for column in COLUMNS}

_YES = frozenset({"yes", "true", "y", "1"})
_NO = frozenset({"no", "false", "n", "0"})
_AT = re.compile(r" - at `\$(.*)`$")
_MISSING = re.compile(r"^Object missing required field `([a-z_0-9]+)`")
_INDEX = re.compile(r"\[\d+\]")


class Fault(NamedTuple):
    column: str  # "" for the row as a whole
    rule: str  # a fixed sentence, never the value


class RowBody(NamedTuple):
    import_ref: str
    body: OpenCaseBody


def _cell(column: Column, raw: str) -> tuple[Any, Fault | None]:
    text = raw.strip()
    if column.kind == "list":
        return [item.strip() for item in text.split(LIST_SEPARATOR) if item.strip()], None
    if column.kind == "number":
        if text.isdigit() and len(text) < 10:
            return int(text), None
        return None, Fault(column.name, "is not a whole number")
    if column.kind == "yes_no":
        if text.lower() in _YES:
            return True, None
        if text.lower() in _NO:
            return False, None
        return None, Fault(column.name, "is not yes or no")
    if column.kind == "date":
        try:
            return dt.date.fromisoformat(text).isoformat(), None
        except ValueError:
            return None, Fault(column.name, "is not a date (YYYY-MM-DD)")
    return text, None


def _column_of(pointer: str) -> str:
    """The column of a member named by an RFC 6901 pointer or a msgspec path."""
    parts = [p for p in re.split(r"[/.]", _INDEX.sub("", pointer)) if p and not p.isdigit()]
    name = ".".join(parts)
    return CHANNEL + name.removeprefix(CHANNELS) if name.startswith(CHANNELS) else name


def _conversion_fault(error: msgspec.ValidationError) -> Fault:
    """The column and a fixed sentence of what a converted row breaks (msgspec's own message
    is not repeated: some of its messages quote the value)."""
    message = str(error)
    matched = _AT.search(message)
    path = matched.group(1) if matched else ""
    missing = _MISSING.match(message)
    if missing is not None:
        return Fault(_column_of(f"{path}.{missing.group(1)}"), "is required")
    column = _column_of(path)
    if "length" in message:
        return Fault(column, "is too long or empty")
    if "regex" in message:
        return Fault(column, "is not an identifier")
    return Fault(column, "is not valid")


def row_body(cells: Mapping[str, str]) -> tuple[RowBody | None, list[Fault]]:
    """The row's import reference and intake body, or what the row breaks, by column."""
    members: dict[str, Any] = {}
    faults: list[Fault] = []
    for name, raw in cells.items():
        column = BY_NAME[name]
        if not raw.strip() or name == IMPORT_REF:
            continue
        value, fault = _cell(column, raw)
        if fault is not None:
            faults.append(fault)
            continue
        place = members
        *parents, member = name.split(".")
        for parent in parents:
            place = place.setdefault(parent, {})
        place[member] = value
    reference = cells.get(IMPORT_REF, "").strip()
    if not reference:
        faults.insert(0, Fault(IMPORT_REF, "is required"))
    elif len(reference) > MAX_IMPORT_REF or not is_identifier(reference):
        rule = f"is not an identifier of 1 to {MAX_IMPORT_REF} characters"
        faults.insert(0, Fault(IMPORT_REF, rule))
    faults += [
        Fault(column.name, "is required")
        for column in COLUMNS[1:]
        if column.required and not cells.get(column.name, "").strip()
    ]
    if faults:
        return None, faults
    contact = members.get("contact", {})
    channel = contact.pop("channel", None)
    if channel is not None:
        contact["channels"] = [channel]
    try:
        body = msgspec.convert(members, OpenCaseBody)
    except msgspec.ValidationError as error:
        return None, [_conversion_fault(error)]
    broken = [Fault(_column_of(pointer), rule) for pointer, rule in text_faults(body)]
    return (None, broken) if broken else (RowBody(reference, body), [])


def header_faults(header: Sequence[str]) -> list[str]:
    """What the header row breaks, each naming a column by its position (a header cell could be
    a client's data: a file exported without its header)."""
    faults = []
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if name not in BY_NAME:
            faults.append(f"header column {position} is not an import column")
        elif name in seen:
            faults.append(f"header column {position} repeats a column")
        seen.add(name)
    if IMPORT_REF not in seen:
        faults.append(f"the header has no {IMPORT_REF} column")
    return faults

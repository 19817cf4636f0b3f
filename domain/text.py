"""What the text of a command may hold: one rule for every string member, by its name.

Commands come from outside (request bodies, imports, scripts), and what they carry is sealed
into events, folded into views, and some of it written into plain index columns. So every
string member of a command, however deeply nested, is held to the rule of its name
(`member_rule`), and a fault is reported without repeating the text (`text_faults`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping

import msgspec

from domain.identifiers import MAX_IDENTIFIER_LENGTH, is_identifier

MAX_TEXT_LENGTH = 1_000
MAX_LONG_TEXT_LENGTH = 20_000
LONG_TEXT_MEMBERS = frozenset({"narrative", "notes", "description", "reason"})
IDENTIFIER_MEMBERS = frozenset({"recipient_organisation"})

_ASCII_REFUSED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn", "Zl", "Zp", "Cf"})
_LAYOUT = frozenset("\t\n\r")
_JOINERS = frozenset("\u200c\u200d")


def is_text(value: object, *, max_length: int = MAX_TEXT_LENGTH) -> bool:
    """Free text of at most `max_length` printable characters, line breaks and tabs allowed.

    "Printable" refuses what no person types and what breaks or forges things downstream:
    control characters (NUL, escape...) other than tab and line feed/carriage return, the line
    and paragraph separators, surrogates, private-use and unassigned code points, and format
    characters other than the zero-width joiner and non-joiner (which some scripts' names
    need)."""
    if not isinstance(value, str) or len(value) > max_length:
        return False
    if value.isascii():
        return _ASCII_REFUSED.search(value) is None
    return all(
        ch in _LAYOUT or ch in _JOINERS or unicodedata.category(ch) not in _REFUSED_CATEGORIES
        for ch in value
    )


def member_rule(name: str) -> str:
    """Which rule a string member named `name` is held to:

    * "identifier" (a member named ``*_id``, or ``recipient_organisation``):
      `domain.identifiers`;
    * "long text" (``narrative``, ``notes``, ``description``, ``reason``): up to
      `MAX_LONG_TEXT_LENGTH` characters (`is_text`);
    * "text", any other (a name, a place, a code, a short answer): up to `MAX_TEXT_LENGTH`
      characters (`is_text`).
    """
    if name.endswith("_id") or name in IDENTIFIER_MEMBERS:
        return "identifier"
    return "long text" if name in LONG_TEXT_MEMBERS else "text"


def _fault(value: str, rule: str) -> str | None:
    if rule == "identifier":
        return (
            None
            if is_identifier(value)
            else (
                f"must be 1 to {MAX_IDENTIFIER_LENGTH} printable characters, "
                "without control, format or separator characters"
            )
        )
    limit = MAX_LONG_TEXT_LENGTH if rule == "long text" else MAX_TEXT_LENGTH
    return (
        None
        if is_text(value, max_length=limit)
        else (f"must be at most {limit} printable characters (line breaks and tabs allowed)")
    )


def text_faults(value: object, pointer: str = "", rule: str = "text") -> Iterator[tuple[str, str]]:
    """(pointer, what the member must be) for each string member of `value` that breaks its
    rule, the pointer in RFC 6901 form ("/identity/preferred_name"); never the text itself.
    Keys of a mapping are held to the text rule, and a fault in a key or a value is reported
    at the mapping (a key may be content)."""
    if isinstance(value, str):
        fault = _fault(value, rule)
        if fault is not None:
            yield pointer, fault
    elif isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            yield from text_faults(getattr(value, name), f"{pointer}/{name}", member_rule(name))
    elif isinstance(value, (tuple, list)):
        for index, item in enumerate(value):
            yield from text_faults(item, f"{pointer}/{index}", rule)
    elif isinstance(value, Mapping):
        if not all(
            is_text(key, max_length=MAX_IDENTIFIER_LENGTH) for key in value if isinstance(key, str)
        ):
            yield pointer, f"must have keys of at most {MAX_IDENTIFIER_LENGTH} printable characters"
        for item in value.values():
            yield from text_faults(item, pointer, rule)

"""Record vintages: when a version of a record was first counted, and when it stopped being counted.

Late data and corrections change numbers already released, and every release must stay true
in the ledger (`domain.reporting.ledger`). So each family's universe has a `vintage`
dimension whose codes are *lifetimes* (`lifetime`), counted in eras: era 0 is the first
release of a fiscal year, and a new era opens (`opened`) when today's counts cannot be split
over the known lifetimes so that every published number holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from domain.reporting.ledger import Publication
from domain.reporting.tables import Universe

DIMENSION = "vintage"
FIRST = "v0"
_LIFETIME = re.compile(r"^v(\d+)(?:-(\d+))?$")


def lifetime(code: str) -> tuple[int, int | None]:
    """(first era counted, first era not counted or None) of a lifetime's code:

    * ``v{i}``: versions of records first counted in era i and counted still;
    * ``v{i}-{j}``: versions first counted in era i and not counted from era j on (the record
      was erased, or corrected: its consent withdrawn, its category changed; a corrected
      record is counted again from era j as a version of lifetime ``v{j}``).
    """
    match = _LIFETIME.match(code)
    if match is None or match.group(2) is not None and int(match.group(2)) <= int(match.group(1)):
        raise ValueError("a vintage is v<era> or v<era>-<later era>")
    return int(match.group(1)), None if match.group(2) is None else int(match.group(2))


def era(codes: Iterable[str]) -> int:
    """The latest era in which one of the lifetimes was first counted: the era of a release
    that counted them (every era opens with its own late records, ``v{e}``)."""
    return max(lifetime(code)[0] for code in codes)


def alive(codes: Sequence[str], at: int) -> tuple[str, ...]:
    """The lifetimes (in `codes`' order) whose versions a release made in era `at` counts:
    every lifetime [i, j) with i <= at < j."""
    out = []
    for code in codes:
        start, end = lifetime(code)
        if start <= at and (end is None or at < end):
            out.append(code)
    return tuple(out)


def newest(codes: Sequence[str]) -> str:
    """The lifetime of the records first counted in the latest era."""
    return f"v{era(codes)}"


def current(codes: Sequence[str]) -> tuple[str, ...]:
    """The lifetimes a release made in the latest era counts."""
    return alive(codes, era(codes))


def opened(codes: Sequence[str], departures: bool) -> tuple[str, ...]:
    """`codes` and a new era's: its late records (``v{e}``), and with `departures` every
    current lifetime's departure (``v{i}-{e}``). A new era opens with its late records only
    when that suffices: the fewer lifetimes, the more an outsider is assumed to know, so the
    stricter the audit."""
    new = era(codes) + 1
    gone = [f"v{lifetime(c)[0]}-{new}" for c in current(codes)] if departures else []
    return (*codes, f"v{new}", *gone)


def widened(publication: Publication, universe: Universe) -> Publication:
    """`publication` with each selection's lifetimes those of `universe` alive in the era it
    was made: an old release's selections name the lifetimes that existed when it was made,
    and this adds those opened since that it counted (the versions that went later)."""
    position = universe.position(DIMENSION)
    codes = universe.dimension(DIMENSION).codes
    resolved = {}
    for ref, selection in publication.selections.items():
        counted = frozenset(alive(codes, era(selection[position])))
        resolved[ref] = (
            selection
            if counted == selection[position]
            else (*selection[:position], counted, *selection[position + 1 :])
        )
    return Publication(publication.release, publication.cells, publication.percentages, resolved)

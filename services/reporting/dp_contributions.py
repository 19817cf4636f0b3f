"""The privacy unit of DP mode: the client, with a bounded contribution to every table.

Input is per-client rows, one row per unit a client adds to one cell of a table (a
served-in-quarter row, a service instance...), each naming its client by the `subject`
pseudonym of ``reporting.federal_inputs``. Each client's rows are bounded *before* anything is
counted, so adding or removing one client changes a table's cells by at most its bound in L1
norm: the sensitivity one noise scale covers (`services.reporting.dp_noise`). A row naming a
cell outside the table's fixed codebook is refused, never turned into a new category (§3.2).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

Subject = uuid.UUID
Dims = tuple[tuple[str, str], ...]  # (dimension, code) pairs, in the table's dimension order


class DPError(ValueError):
    """A DP release was refused; messages name rules, never a subject, a code or a count."""


class InvalidContribution(DPError):
    pass


def dims(mapping: Mapping[str, str]) -> Dims:
    """A cell's coordinates as a hashable tuple, in the mapping's order."""
    return tuple((str(k), str(v)) for k, v in mapping.items())


def codebook_cells(dimensions: Mapping[str, Sequence[str]]) -> tuple[Dims, ...]:
    """Every cell of the cross-classification of `dimensions` (a fixed codebook, zeros included)."""
    names = list(dimensions)
    return tuple(
        tuple(zip(names, codes, strict=True)) for codes in itertools.product(*dimensions.values())
    )


@dataclass(frozen=True)
class DPTable:
    """One table of a DP release: its fixed cells, the contribution bound, the bounded rows.

    Build it with `bound_contributions`, which enforces the bound. `contributions` maps each
    counted client to the cells it adds one to (at most `max_contribution` of them, a cell
    may repeat); `cells()` are the true counts derived from them.
    """

    name: str
    codebook: tuple[Dims, ...]
    max_contribution: int
    contributions: Mapping[Subject, tuple[Dims, ...]] = field(repr=False)

    def __post_init__(self) -> None:
        if (
            isinstance(self.max_contribution, bool)
            or not isinstance(self.max_contribution, int)
            or self.max_contribution < 1
        ):
            raise DPError(f"table {self.name!r}: max_contribution must be a positive integer")
        if not self.codebook or len(set(self.codebook)) != len(self.codebook):
            raise DPError(f"table {self.name!r}: the codebook needs distinct cells")
        known = set(self.codebook)
        for rows in self.contributions.values():
            if len(rows) > self.max_contribution:
                raise InvalidContribution(f"table {self.name!r}: a client exceeds max_contribution")
            if not set(rows) <= known:
                raise InvalidContribution(
                    f"table {self.name!r}: a row names a cell outside the codebook"
                )

    def cells(self, excluded: frozenset[Subject] = frozenset()) -> dict[Dims, int]:
        """True counts per codebook cell (zeros included), leaving out `excluded` clients."""
        counts: Counter[Dims] = Counter()
        for subject, rows in self.contributions.items():
            if subject not in excluded:
                counts.update(rows)
        return {cell: counts[cell] for cell in self.codebook}


def _row_order(subject: Subject, cell: Dims) -> bytes:
    return hashlib.sha256(subject.bytes + json.dumps(cell).encode()).digest()


def bound_contributions(
    name: str,
    codebook: Sequence[Dims],
    max_contribution: int,
    rows: Iterable[tuple[Subject, Dims | Mapping[str, str]]],
) -> DPTable:
    """Per-client rows -> a DPTable in which no client adds more than `max_contribution` rows.

    Each row is (subject, cell) and adds one to that cell. Rows beyond the bound are dropped
    before counting; which ones is a deterministic pseudo-random choice per client (ordered by
    a hash of subject and cell), so re-runs count the same rows and no category is
    systematically favoured.
    """
    known = {frozenset(cell): cell for cell in codebook}  # a row's dimensions may come in any order
    per_client: dict[Subject, list[Dims]] = {}
    for subject, cell in rows:
        if not isinstance(subject, uuid.UUID):
            raise InvalidContribution(f"table {name!r}: a subject must be a UUID")
        key = known.get(frozenset(cell if isinstance(cell, tuple) else dims(cell)))
        if key is None:
            raise InvalidContribution(f"table {name!r}: a row names a cell outside the codebook")
        per_client.setdefault(subject, []).append(key)
    bounded = {
        subject: tuple(
            sorted(cells, key=lambda c, s=subject: (_row_order(s, c), c))[:max_contribution]
        )
        for subject, cells in per_client.items()
    }
    return DPTable(name, tuple(codebook), max_contribution, bounded)

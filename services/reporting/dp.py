"""Differential-privacy mode for federal aggregates (REFERENCE §3.9): noisy counts, spent per client.

For funders who accept noisy counts instead of k=11 suppression. A reporting job calls
`release_noisy`; everything it needs is here, and it reads nothing but what it is given.

**Privacy unit: the client, with bounded contributions.** Input is per-client rows, one row per
unit a client adds to one cell of a table (a served-in-quarter row, a service instance...),
each naming its client by the `subject` pseudonym of ``reporting.federal_inputs``.
`bound_contributions` keeps at most `max_contribution` rows per client and table and drops the
rest *before* anything is counted (which rows are kept is a deterministic pseudo-random choice
per client — a hash of subject and cell — so re-runs count the same rows and no category is
systematically favoured). Adding or removing one client therefore changes a table's cell
vector by at most `max_contribution` in L1 norm, and a release of several tables by at most
the sum of their bounds (`l1_sensitivity`). A row naming a cell outside the table's fixed
codebook is refused, never turned into a new category (§3.2).

**Noise: integer only, through OpenDP.** All cells of a release, concatenated into one integer
vector, go through one OpenDP measurement: `make_laplace` on
``vector_domain(atom_domain(T="i64"))`` with ``l1_distance(T="i64")`` — on integers OpenDP
samples the discrete Laplace (two-sided geometric) distribution exactly,
P(noise = k) = (1 - q) / (1 + q) * q**|k| with q = exp(-1 / scale), from a CSPRNG. No
floating-point noise is ever added to a count. The scale is l1_sensitivity / epsilon, nudged
up by ulps until OpenDP's own privacy map confirms that an input distance of l1_sensitivity
costs at most epsilon (`Mechanism.for_budget`). One epsilon per release is split across its
tables implicitly: one scale for all cells is the same as giving each table
epsilon * max_contribution / l1_sensitivity.

**Post-processing.** Negative noisy counts are clamped to 0 (post-processing of a DP output
costs no privacy; it biases small cells upwards, which the certificate says). Totals are
whatever cells the caller's codebook lists: a total listed as a cell costs contributions like
any other cell (count it in `max_contribution`); a total computed by the caller from the noisy
cells is free post-processing.

**Per-client budget ledger** (schema ``dp``, migration 0005, never released). Every release
charges `epsilon_per_release` to every client with at least one counted row (worst case: a
client's actual L1 contribution may be smaller), in ``dp.spends`` (one row per client and
release) and ``dp.balances`` (the running sum), keyed by subject, in exact decimal arithmetic.
The reporting role only reads these tables: the release and its charges are written by
``dp.record_release`` (migration 0010), a function that runs as the owner and can only add a
release and positive charges, so no reporting session can lower a balance.
Before noise is drawn, every counted client's balance plus the release's epsilon is checked
against `per_client_budget`:

* ``on_exhausted="refuse"`` (default): the whole release is refused (`BudgetExhausted`),
  nothing is drawn, stored or charged. Strict and simple; once any long-served client has
  spent the budget, no further DP release can include them, so the DP mode ends for that
  population until the policy changes.
* ``on_exhausted="exclude"``: an individual privacy filter (Feldman & Zrnic 2021): clients
  whose budget the release would exceed are dropped from every table of the release (before
  counting) and not charged; everyone else is counted and charged. Each client's total loss
  over all releases stays within the budget; the price is a bias (long-served clients vanish
  from later counts). How many clients were excluded is itself a count of people and is
  never reported — not in the output, the certificate or an error.

The exhausted-budget check (and the refusal) is not itself differentially private: a refusal
tells the operator that some counted client reached the budget. It names no client and no
number.

**Release cache.** A release is identified by its fingerprint: a SHA-256 over release key,
period, codebook version, epsilon, exhaustion policy, every table's name, codebook and bound,
and the bounded true counts (computed before any budget exclusion, so a re-run is not changed
by the charges of the first run). Same fingerprint: the stored output is returned byte for
byte, nothing is drawn and nothing is charged — re-running a report cannot average the noise
away. Changed data (a late entry, a correction) is a new fingerprint: a new release with fresh
noise, charged again. Data changed back to an earlier state hits the earlier cache entry.
The fingerprint stays in ``dp.releases`` (it is a hash of true counts, which could be guessed
by enumeration when tables are small: it is as private as the counts and is never released).
Whether a re-run was a cache hit is `DPRelease.cached`, for the operator; it is not part of
the output, which is identical either way. Note that a fresh release after a cached one
tells its reader that the period's data changed — as a published revision does.

**Erasure.** Ledger rows are keyed by the random subject only. Erasing a case deletes its
subject mapping (``views.reporting_subjects``), after which its ledger rows tie to nothing and
the subject can never be counted again; they are not deleted (`projections.rebuild` does not
know this schema). Deleting them would not weaken any guarantee.

**Concurrency.** Lookup, budget check, noise, storage and charges run in one transaction under
a transaction-level advisory lock, so two jobs can neither both spend the last of a client's
budget nor draw two different noisy versions of the same release.

**Never released:** subjects, the fingerprint, who or how many were charged or excluded.
`DPRelease.to_json()` holds period, codebook version, tables of ``{"dims", "count"}`` and a
certificate with the public parameters (mechanism, epsilon, budget, scale, sensitivity).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import metadata
from typing import Any, Literal, NamedTuple

import asyncpg

from services.observability.logging import get_logger
from services.reporting.policy import current_policy

Subject = uuid.UUID
Dims = tuple[tuple[str, str], ...]  # (dimension, code) pairs, in the table's dimension order
OnExhausted = Literal["refuse", "exclude"]

DP_LEDGER_LOCK = 0x4456_5042_5544_4745  # pg_advisory_xact_lock key of the ledger ("DP BUDGE")
MECHANISM = "discrete_laplace"
CLAMPED = "negative noisy counts clamped to 0 (post-processing)"


class DPError(ValueError):
    """A DP release was refused; messages name rules, never a subject, a code or a count."""


class BudgetExhausted(DPError):
    pass


class PolicyExceeded(DPError):
    """The release asks for more than the deployment's disclosure policy allows."""


POLICY_REFUSED = "HV020"  # the SQLSTATE `dp.record_release` raises for a release outside the policy


class RequesterBudgetExhausted(DPError):
    """The organisation and role asking would exceed their privacy budget (names no count)."""


class InvalidContribution(DPError):
    pass


# -- tables and bounded contributions ----------------------------------------------------------

def dims(mapping: Mapping[str, str]) -> Dims:
    """A cell's coordinates as a hashable tuple, in the mapping's order."""
    return tuple((str(k), str(v)) for k, v in mapping.items())


def codebook_cells(dimensions: Mapping[str, Sequence[str]]) -> tuple[Dims, ...]:
    """Every cell of the cross-classification of `dimensions` (a fixed codebook, zeros included)."""
    names = list(dimensions)
    return tuple(tuple(zip(names, codes, strict=True)) for codes in itertools.product(*dimensions.values()))


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
        if isinstance(self.max_contribution, bool) or not isinstance(self.max_contribution, int) \
                or self.max_contribution < 1:
            raise DPError(f"table {self.name!r}: max_contribution must be a positive integer")
        if not self.codebook or len(set(self.codebook)) != len(self.codebook):
            raise DPError(f"table {self.name!r}: the codebook needs distinct cells")
        known = set(self.codebook)
        for rows in self.contributions.values():
            if len(rows) > self.max_contribution:
                raise InvalidContribution(f"table {self.name!r}: a client exceeds max_contribution")
            if not set(rows) <= known:
                raise InvalidContribution(f"table {self.name!r}: a row names a cell outside the codebook")

    def cells(self, excluded: frozenset[Subject] = frozenset()) -> dict[Dims, int]:
        """True counts per codebook cell (zeros included), leaving out `excluded` clients."""
        counts: Counter[Dims] = Counter()
        for subject, rows in self.contributions.items():
            if subject not in excluded:
                counts.update(rows)
        return {cell: counts[cell] for cell in self.codebook}


def _row_order(subject: Subject, cell: Dims) -> bytes:
    return hashlib.sha256(subject.bytes + json.dumps(cell).encode()).digest()


def bound_contributions(name: str, codebook: Sequence[Dims], max_contribution: int,
                        rows: Iterable[tuple[Subject, Dims | Mapping[str, str]]]) -> DPTable:
    """Per-client rows -> a DPTable in which no client adds more than `max_contribution` rows.

    Each row is (subject, cell) and adds one to that cell. Rows beyond the bound are dropped
    before counting; which ones is deterministic (ordered by a hash of subject and cell), so
    the same input always gives the same counts.
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
    bounded = {subject: tuple(sorted(cells, key=lambda c, s=subject: (_row_order(s, c), c))[:max_contribution])
               for subject, cells in per_client.items()}
    return DPTable(name, tuple(codebook), max_contribution, bounded)


# -- the mechanism ---------------------------------------------------------------------------

def _opendp():
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp


@dataclass(frozen=True)
class Mechanism:
    """OpenDP's discrete Laplace on integer vectors at a fixed scale: integer counts in, out."""

    scale: float

    @classmethod
    def for_budget(cls, epsilon: Decimal, l1_sensitivity: int) -> Mechanism:
        """The smallest scale >= sensitivity / epsilon that OpenDP's privacy map accepts."""
        scale = l1_sensitivity / float(epsilon)
        for _ in range(64):
            mechanism = cls(scale)
            if mechanism.measurement().check(l1_sensitivity, float(epsilon)):
                return mechanism
            scale = math.nextafter(scale, math.inf)
        raise DPError("no noise scale satisfies the privacy map")  # pragma: no cover

    def measurement(self):
        dp = _opendp()
        space = dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64")
        return dp.m.make_laplace(*space, scale=self.scale)

    def epsilon(self, l1_sensitivity: int) -> float:
        return float(self.measurement().map(l1_sensitivity))

    def __call__(self, counts: Sequence[int]) -> list[int]:
        if any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in counts):
            raise DPError("true counts must be non-negative integers")
        if not counts:
            return []
        noisy = self.measurement()(list(counts))
        assert all(type(v) is int for v in noisy)
        return noisy


def discrete_laplace_pmf(k: int, scale: float) -> float:
    """P(noise = k) for OpenDP's integer Laplace at `scale` (for tests and documentation)."""
    q = math.exp(-1.0 / scale)
    return (1.0 - q) / (1.0 + q) * q ** abs(k)


# -- the release -----------------------------------------------------------------------------

@dataclass(frozen=True)
class NoisyTable:
    name: str
    cells: tuple[tuple[Dims, int], ...]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "cells": [{"dims": dict(cell), "count": count} for cell, count in self.cells]}


@dataclass(frozen=True)
class DPRelease:
    """What a DP release publishes (`to_json`); `cached` is for the operator only."""

    release_key: str
    period: str
    codebook_version: str
    tables: tuple[NoisyTable, ...]
    certificate: Mapping[str, Any]
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"period": self.period, "codebook_version": self.codebook_version,
                "tables": [t.to_json() for t in self.tables], "certificate": dict(self.certificate)}

    @classmethod
    def from_json(cls, release_key: str, document: Mapping[str, Any], *, cached: bool) -> DPRelease:
        tables = tuple(NoisyTable(t["name"], tuple((dims(c["dims"]), int(c["count"])) for c in t["cells"]))
                       for t in document["tables"])
        return cls(release_key, document["period"], document["codebook_version"], tables,
                   dict(document["certificate"]), cached)


def _decimal(value: Decimal | float | int | str, what: str) -> Decimal:
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite() or number <= 0:
        raise DPError(f"{what} must be a positive number")
    return number


def fingerprint(*, release_key: str, period: str, codebook_version: str, epsilon: Decimal,
                on_exhausted: OnExhausted, tables: Sequence[DPTable]) -> bytes:
    """Identity of a release: its definition and its bounded true counts (never released)."""
    document = {
        "release_key": release_key, "period": period, "codebook_version": codebook_version,
        "epsilon": str(epsilon.normalize()), "on_exhausted": on_exhausted, "mechanism": MECHANISM,
        "tables": [{"name": t.name, "max_contribution": t.max_contribution,
                    "cells": [[list(map(list, cell)), count] for cell, count in t.cells().items()]}
                   for t in tables],
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).digest()


class Requester(NamedTuple):
    """Who asks for a release: charged against the budget of their organisation and role."""

    organisation: str
    role: str
    actor_id: str


async def release_noisy(conn: asyncpg.Connection, *, release_key: str, period: str, codebook_version: str,
                        tables: Sequence[DPTable], epsilon_per_release: Decimal | float | str,
                        per_client_budget: Decimal | float | str | None = None,
                        on_exhausted: OnExhausted = "refuse", requester: Requester | None = None,
                        requester_budget: Decimal | None = None) -> DPRelease:
    """Release `tables` with discrete Laplace noise, charging every counted client (module doc)
    and, when given, the requester: their spend is recorded in ``dp.requester_spends`` and
    their organisation and role may spend at most `requester_budget` over all releases.

    The disclosure policy in ``dp.policy`` (`domain.reporting.policy`) bounds everything: the
    epsilon of a release, the noise scale, each client's lifetime and each requester's budget.
    `per_client_budget` and `requester_budget` may only tighten it, never loosen it; the
    database refuses a release that breaks the policy whatever this code decides
    (`dp.record_release`).

    The same release (same fingerprint) returns the stored numbers and charges nothing.
    Raises `PolicyExceeded` for an epsilon or a noise scale the policy does not allow,
    `BudgetExhausted` (policy "refuse") if a counted client would exceed the budget,
    `RequesterBudgetExhausted` if the requester's would be.
    """
    epsilon = _decimal(epsilon_per_release, "epsilon_per_release")
    tighter = None if per_client_budget is None else _decimal(per_client_budget, "per_client_budget")
    if on_exhausted not in ("refuse", "exclude"):
        raise DPError("on_exhausted must be 'refuse' or 'exclude'")
    if not tables or len({t.name for t in tables}) != len(tables):
        raise DPError("a release needs tables with distinct names")
    key = fingerprint(release_key=release_key, period=period, codebook_version=codebook_version,
                      epsilon=epsilon, on_exhausted=on_exhausted, tables=tables)
    sensitivity = sum(t.max_contribution for t in tables)

    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", DP_LEDGER_LOCK)
        stored = await conn.fetchval(
            "SELECT output FROM dp.releases WHERE release_key = $1 AND fingerprint = $2", release_key, key)
        if stored is not None:
            return DPRelease.from_json(release_key, json.loads(stored), cached=True)

        policy = await current_policy(conn)
        if epsilon > policy.max_epsilon_per_release:
            raise PolicyExceeded("epsilon_per_release exceeds the disclosure policy's maximum per release")
        budget = policy.lifetime_epsilon if tighter is None else min(tighter, policy.lifetime_epsilon)
        if epsilon > budget:
            raise DPError("epsilon_per_release exceeds per_client_budget")
        requester_budget = policy.requester_budget if requester_budget is None else min(requester_budget,
                                                                                        policy.requester_budget)
        if requester is not None:
            spent = await conn.fetchval(
                "SELECT COALESCE(sum(epsilon), 0) FROM dp.requester_spends WHERE organisation = $1 AND role = $2",
                requester.organisation, requester.role)
            if spent + epsilon > requester_budget:
                raise RequesterBudgetExhausted(
                    f"release {release_key!r}: the privacy budget of this organisation's {requester.role}s would "
                    f"be exceeded ({spent.normalize()} of {requester_budget.normalize()} spent)")
        subjects = sorted(set().union(*(t.contributions for t in tables)))
        rows = await conn.fetch("SELECT subject, spent FROM dp.balances WHERE subject = ANY($1::uuid[])", subjects)
        over = frozenset(r["subject"] for r in rows if r["spent"] + epsilon > budget)
        if over and on_exhausted == "refuse":
            raise BudgetExhausted(
                f"release {release_key!r}: a counted client would exceed the per-client privacy budget")
        charged = [s for s in subjects if s not in over]

        mechanism = Mechanism.for_budget(epsilon, sensitivity)
        if Decimal(repr(mechanism.scale)) < policy.noise_floor:
            raise PolicyExceeded("the noise scale would fall below the disclosure policy's floor")
        truth = [t.cells(over) for t in tables]
        noisy = iter(mechanism([count for cells in truth for count in cells.values()]))
        released = tuple(NoisyTable(t.name, tuple((cell, max(0, next(noisy))) for cell in cells))
                         for t, cells in zip(tables, truth, strict=True))
        certificate = {
            "release_key": release_key,
            "mechanism": MECHANISM,
            "library": f"opendp {metadata.version('opendp')}",
            "privacy_unit": "client (bounded contributions)",
            "epsilon_per_client": str(epsilon.normalize()),
            "per_client_budget": str(budget.normalize()),
            "on_exhausted": on_exhausted,
            "l1_sensitivity": sensitivity,
            "max_contribution": {t.name: t.max_contribution for t in tables},
            "scale": mechanism.scale,
            "post_processing": CLAMPED,
        }
        release = DPRelease(release_key, period, codebook_version, released, certificate)
        # recorded and charged by the owner's function: the reporting role only reads the ledger
        who = requester or Requester(None, None, None)  # type: ignore[arg-type]
        try:
            await conn.fetchval(
                "SELECT dp.record_release($1, $2, $3, $4, $5, $6::json, $7::uuid[], $8, $9, $10, $11)",
                release_key, key, period, codebook_version, epsilon, json.dumps(release.to_json()), charged, *who,
                mechanism.scale)
        except asyncpg.PostgresError as error:
            if getattr(error, "sqlstate", None) == POLICY_REFUSED:
                raise PolicyExceeded("the database refused the release under the disclosure policy") from None
            raise
        if requester is not None:  # the spend log: also in dp.requester_spends, with the release
            get_logger("reporting").info("dp budget spent", organisation_id=requester.organisation,
                                         role=requester.role, actor_id=requester.actor_id, epsilon=str(epsilon.normalize()))
        return release

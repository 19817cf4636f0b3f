"""Differential-privacy mode (REFERENCE §3.9): noisy federal aggregates, spent per client.

For funders who accept noisy counts instead of k=11 suppression. `release_noisy` adds integer
noise (`dp_noise`) to tables of bounded contributions (`dp_contributions`), charges every
counted client's lifetime budget, and stores the release so that running it again returns
the same numbers instead of fresh noise to average. It reads nothing but what it is given.
Never released: subjects, a release's fingerprint, who or how many were charged or excluded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from importlib import metadata
from typing import Any, Literal, NamedTuple

import asyncpg

from services.observability.logging import get_logger
from services.reporting.dp_contributions import Dims, DPError, DPTable, dims
from services.reporting.dp_noise import MECHANISM, Mechanism
from services.reporting.policy import current_policy

OnExhausted = Literal["refuse", "exclude"]

DP_BUDGET_LOCK = 0x4456_5042_5544_4745  # pg_advisory_xact_lock key of the budgets ("DP BUDGE")
CLAMPED = "negative noisy counts clamped to 0 (post-processing)"


class BudgetExhausted(DPError):
    pass


class PolicyExceeded(DPError):
    """The release asks for more than the deployment's disclosure policy allows."""


POLICY_REFUSED = "HV020"  # the SQLSTATE `dp.record_release` raises for a release outside the policy


class RequesterBudgetExhausted(DPError):
    """The organisation and role asking would exceed their privacy budget (names no count)."""


@dataclass(frozen=True)
class NoisyTable:
    name: str
    cells: tuple[tuple[Dims, int], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "cells": [{"dims": dict(cell), "count": count} for cell, count in self.cells],
        }


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
        return {
            "period": self.period,
            "codebook_version": self.codebook_version,
            "tables": [t.to_json() for t in self.tables],
            "certificate": dict(self.certificate),
        }

    @classmethod
    def from_json(cls, release_key: str, document: Mapping[str, Any], *, cached: bool) -> DPRelease:
        tables = tuple(
            NoisyTable(t["name"], tuple((dims(c["dims"]), int(c["count"])) for c in t["cells"]))
            for t in document["tables"]
        )
        return cls(
            release_key,
            document["period"],
            document["codebook_version"],
            tables,
            dict(document["certificate"]),
            cached,
        )


def _decimal(value: Decimal | float | int | str, what: str) -> Decimal:
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite() or number <= 0:
        raise DPError(f"{what} must be a positive number")
    return number


def fingerprint(
    *,
    release_key: str,
    period: str,
    codebook_version: str,
    epsilon: Decimal,
    on_exhausted: OnExhausted,
    tables: Sequence[DPTable],
) -> bytes:
    """Identity of a release: its definition and its bounded true counts (never released)."""
    document = {
        "release_key": release_key,
        "period": period,
        "codebook_version": codebook_version,
        "epsilon": str(epsilon.normalize()),
        "on_exhausted": on_exhausted,
        "mechanism": MECHANISM,
        "tables": [
            {
                "name": t.name,
                "max_contribution": t.max_contribution,
                "cells": [[list(map(list, cell)), count] for cell, count in t.cells().items()],
            }
            for t in tables
        ],
    }
    return hashlib.sha256(
        json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    ).digest()


class Requester(NamedTuple):
    """Who asks for a release: charged against the budget of their organisation and role."""

    organisation: str
    role: str
    actor_id: str


async def release_noisy(
    conn: asyncpg.Connection,
    *,
    release_key: str,
    period: str,
    codebook_version: str,
    tables: Sequence[DPTable],
    epsilon_per_release: Decimal | float | str,
    per_client_budget: Decimal | float | str | None = None,
    on_exhausted: OnExhausted = "refuse",
    requester: Requester | None = None,
    requester_budget: Decimal | None = None,
) -> DPRelease:
    """Release `tables` with discrete Laplace noise, charging every counted client and, when
    given, the requester (their spend is recorded in ``dp.requester_spends``; their
    organisation and role may spend at most `requester_budget` over all releases).

    The disclosure policy in ``dp.policy`` (`domain.reporting.policy`) bounds everything: the
    epsilon of a release, the noise scale, each client's lifetime and each requester's budget.
    `per_client_budget` and `requester_budget` may only tighten it, never loosen it; the
    database refuses a release that breaks the policy whatever this code decides
    (`dp.record_release` runs as the owner and can only add a release and positive charges,
    so no reporting connection can lower a balance).

    **Budget.** A release charges `epsilon_per_release` to every client with at least one
    counted row (the worst case: a client's actual L1 contribution may be smaller), in
    ``dp.spends`` and ``dp.balances``, keyed by subject, in exact decimal arithmetic. Before
    noise is drawn, each counted client's balance plus the epsilon is checked against the
    budget. ``on_exhausted="refuse"``: the whole release is refused (`BudgetExhausted`),
    nothing is drawn, stored or charged; once a long-served client has spent the budget, DP
    mode ends for that population until the policy changes. ``"exclude"``: an individual
    privacy filter (Feldman & Zrnic 2021): clients the release would take over the budget are
    dropped from every table before counting and not charged, so each client's total loss
    stays within the budget, at the price of a bias (long-served clients vanish from later
    counts); how many were excluded is a count of people and is never reported. The check is
    not itself differentially private: a refusal tells the operator that some counted client
    reached the budget, and names no client and no number.

    **Post-processing.** Negative noisy counts are clamped to 0 (post-processing of a DP
    output costs no privacy; it biases small cells upwards, which the certificate says). A
    total listed as a cell costs contributions like any other cell; a total the caller
    computes from the noisy cells is free.

    **The same release again.** A release is identified by its `fingerprint`, computed before
    any budget exclusion so that a re-run is not changed by the first run's charges. The same
    fingerprint returns the stored output byte for byte and charges nothing: re-running a
    report cannot average the noise away. Changed data (a late entry, a correction) is a new
    fingerprint: a new release with fresh noise, charged again, which tells its reader that
    the period's data changed, as a published revision does. The fingerprint hashes true
    counts, which small tables make guessable: it stays in ``dp.releases``, never released.
    `DPRelease.cached` tells the operator whether a run was a cache hit.

    **Erasure.** Charges are keyed by the random subject only: erasing a case deletes its
    subject mapping, after which its charges tie to nothing and the subject is never
    counted again (they are not deleted; deleting them would weaken no guarantee).

    **Concurrency.** Lookup, budget check, noise, storage and charges run in one transaction
    under a transaction-level advisory lock, so two jobs can neither both spend the last of a
    client's budget nor draw two different noisy versions of the same release.

    Raises `PolicyExceeded` for an epsilon or a noise scale the policy does not allow,
    `BudgetExhausted` (policy "refuse") if a counted client would exceed the budget,
    `RequesterBudgetExhausted` if the requester's would be.
    """
    epsilon = _decimal(epsilon_per_release, "epsilon_per_release")
    tighter = (
        None if per_client_budget is None else _decimal(per_client_budget, "per_client_budget")
    )
    if on_exhausted not in ("refuse", "exclude"):
        raise DPError("on_exhausted must be 'refuse' or 'exclude'")
    if not tables or len({t.name for t in tables}) != len(tables):
        raise DPError("a release needs tables with distinct names")
    key = fingerprint(
        release_key=release_key,
        period=period,
        codebook_version=codebook_version,
        epsilon=epsilon,
        on_exhausted=on_exhausted,
        tables=tables,
    )
    sensitivity = sum(t.max_contribution for t in tables)

    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", DP_BUDGET_LOCK)
        stored = await conn.fetchval(
            "SELECT output FROM dp.releases WHERE release_key = $1 AND fingerprint = $2",
            release_key,
            key,
        )
        if stored is not None:
            return DPRelease.from_json(release_key, json.loads(stored), cached=True)

        policy = await current_policy(conn)
        if epsilon > policy.max_epsilon_per_release:
            raise PolicyExceeded(
                "epsilon_per_release exceeds the disclosure policy's maximum per release"
            )
        budget = (
            policy.lifetime_epsilon if tighter is None else min(tighter, policy.lifetime_epsilon)
        )
        if epsilon > budget:
            raise DPError("epsilon_per_release exceeds per_client_budget")
        requester_budget = (
            policy.requester_budget
            if requester_budget is None
            else min(requester_budget, policy.requester_budget)
        )
        if requester is not None:
            spent = await conn.fetchval(
                "SELECT COALESCE(sum(epsilon), 0) FROM dp.requester_spends"
                " WHERE organisation = $1 AND role = $2",
                requester.organisation,
                requester.role,
            )
            if spent + epsilon > requester_budget:
                raise RequesterBudgetExhausted(
                    f"release {release_key!r}: the privacy budget of this organisation's "
                    f"{requester.role}s would be exceeded "
                    f"({spent.normalize()} of {requester_budget.normalize()} spent)"
                )
        subjects = sorted(set().union(*(t.contributions for t in tables)))
        rows = await conn.fetch(
            "SELECT subject, spent FROM dp.balances WHERE subject = ANY($1::uuid[])", subjects
        )
        over = frozenset(r["subject"] for r in rows if r["spent"] + epsilon > budget)
        if over and on_exhausted == "refuse":
            raise BudgetExhausted(
                f"release {release_key!r}: "
                "a counted client would exceed the per-client privacy budget"
            )
        charged = [s for s in subjects if s not in over]

        mechanism = Mechanism.for_budget(epsilon, sensitivity)
        if Decimal(repr(mechanism.scale)) < policy.noise_floor:
            raise PolicyExceeded("the noise scale would fall below the disclosure policy's floor")
        truth = [t.cells(over) for t in tables]
        noisy = iter(mechanism([count for cells in truth for count in cells.values()]))
        released = tuple(
            NoisyTable(t.name, tuple((cell, max(0, next(noisy))) for cell in cells))
            for t, cells in zip(tables, truth, strict=True)
        )
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
        # recorded and charged by the owner's function: the reporting role only reads the budgets
        who = requester or Requester(None, None, None)  # type: ignore[arg-type]
        try:
            await conn.fetchval(
                "SELECT dp.record_release("
                "$1, $2, $3, $4, $5, $6::json, $7::uuid[], $8, $9, $10, $11)",
                release_key,
                key,
                period,
                codebook_version,
                epsilon,
                json.dumps(release.to_json()),
                charged,
                *who,
                mechanism.scale,
            )
        except asyncpg.PostgresError as error:
            if getattr(error, "sqlstate", None) == POLICY_REFUSED:
                raise PolicyExceeded(
                    "the database refused the release under the disclosure policy"
                ) from None
            raise
        if requester is not None:  # the spend log: also in dp.requester_spends, with the release
            get_logger("reporting").info(
                "dp budget spent",
                organisation_id=requester.organisation,
                role=requester.role,
                actor_id=requester.actor_id,
                epsilon=str(epsilon.normalize()),
            )
        return release

"""The disclosure policy of differentially private releases: deployment policy, not an argument.

Four numbers, set only by the deployment's administrator (`haven report policy set`, recorded
as a `DisclosurePolicySet` event) and enforced by the database itself (`dp.record_release`),
so no caller — over HTTP or with a shell — can exceed them. Raising any of them is a decision
the administrator records, not a parameter a request carries.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from domain.event import DomainEvent


class DisclosurePolicy(msgspec.Struct, frozen=True, kw_only=True):
    """The four numbers. Why the defaults (`DEFAULT_POLICY`; docs/federal-reporting.md):
    ε = 1 per release is the common ceiling for counts about vulnerable people (each release
    changes any one person's odds by at most a factor e); a lifetime of 4 lets a client appear
    in four such releases — a fiscal year of quarterly releases — before they drop out of DP
    releases; an organisation's reporters get the same 4, so one organisation cannot spend the
    clients' whole budget on its own."""

    # What each client may be charged across every DP release (the privacy loss their data
    # may ever cause). Default 4.
    lifetime_epsilon: Decimal
    max_epsilon_per_release: Decimal  # what one release may charge each counted client (1)
    # What the reporters of one organisation, per role, may spend across every release they
    # ask for. Default 4.
    requester_budget: Decimal
    # The smallest noise scale (of the discrete Laplace mechanism) a release may use. Default
    # 1: below it most noisy counts equal the true ones.
    noise_floor: Decimal


DEFAULT_POLICY = DisclosurePolicy(
    lifetime_epsilon=Decimal("4"),
    max_epsilon_per_release=Decimal("1"),
    requester_budget=Decimal("4"),
    noise_floor=Decimal("1"),
)


class DisclosurePolicySet(
    DomainEvent, frozen=True, kw_only=True, tag="reporting.disclosure_policy_set"
):
    """The administrator set the disclosure policy (every number, as set)."""

    lifetime_epsilon: Decimal
    max_epsilon_per_release: Decimal
    requester_budget: Decimal
    noise_floor: Decimal
    set_by: str


POLICY_EVENTS: tuple[type[DomainEvent], ...] = (DisclosurePolicySet,)


def policy_faults(policy: DisclosurePolicy) -> list[str]:
    """What makes `policy` unusable (empty: it may be set). Names fields, never data."""
    faults = []
    for name in ("lifetime_epsilon", "max_epsilon_per_release", "requester_budget"):
        value = getattr(policy, name)
        if not value.is_finite() or value <= 0:
            faults.append(f"{name} must be a number above 0")
    if not policy.noise_floor.is_finite() or policy.noise_floor < 0:
        faults.append("noise_floor must be a number of at least 0")
    if not faults and policy.max_epsilon_per_release > policy.lifetime_epsilon:
        faults.append("max_epsilon_per_release must not exceed lifetime_epsilon")
    if not faults and policy.max_epsilon_per_release > policy.requester_budget:
        faults.append("max_epsilon_per_release must not exceed requester_budget")
    return faults

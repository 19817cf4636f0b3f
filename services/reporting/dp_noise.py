"""The noise of DP mode: OpenDP's discrete Laplace, integer counts in and integer counts out.

On integers OpenDP samples the discrete Laplace (two-sided geometric) distribution exactly,
from a CSPRNG, so no floating-point noise is ever added to a count; and OpenDP's own privacy
map, not a formula here, decides whether a scale is enough for an epsilon.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from services.reporting.dp_contributions import DPError

MECHANISM = "discrete_laplace"


def _opendp():
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp


@dataclass(frozen=True)
class Mechanism:
    """OpenDP's discrete Laplace on integer vectors at a fixed scale: integer counts in, out.

    All cells of a release, concatenated into one integer vector, go through one measurement:
    `make_laplace` on ``vector_domain(atom_domain(T="i64"))`` with ``l1_distance(T="i64")``,
    P(noise = k) = (1 - q) / (1 + q) * q**|k| with q = exp(-1 / scale). One scale for every
    cell is one epsilon per release, split across its tables implicitly: each table gets
    epsilon * max_contribution / l1_sensitivity.
    """

    scale: float

    @classmethod
    def for_budget(cls, epsilon: Decimal, l1_sensitivity: int) -> Mechanism:
        """The smallest scale >= sensitivity / epsilon that OpenDP's privacy map accepts (nudged
        up by ulps until an input distance of `l1_sensitivity` costs at most `epsilon`)."""
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

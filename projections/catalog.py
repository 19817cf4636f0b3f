"""Every projection Haven runs, by name."""

from __future__ import annotations

from collections.abc import Callable

from crypto.keyring import Keyring
from projections.base import Projection
from projections.cases import CasesProjection

PROJECTION_TYPES: tuple[type[Projection], ...] = (CasesProjection,)


def projection_factories(keyring: Keyring) -> dict[str, Callable[[], Projection]]:
    """name -> a factory of fresh instances (each runner or rebuild has its own caches)."""
    return {"cases": lambda: CasesProjection(keyring)}

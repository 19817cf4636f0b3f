"""Every projection Haven runs, by name."""

from __future__ import annotations

from collections.abc import Callable

from crypto.keyring import Keyring
from events.store import PostgresEventStore
from projections.base import Projection
from projections.cases import CasesProjection
from projections.federal_inputs import FederalInputsProjection

PROJECTION_TYPES: tuple[type[Projection], ...] = (CasesProjection, FederalInputsProjection)


def projection_factories(keyring: Keyring, store: PostgresEventStore | None = None
                         ) -> dict[str, Callable[[], Projection]]:
    """name -> a factory of fresh instances (each runner or rebuild has its own caches).

    `federal_inputs` reads case streams from the store on a cache miss, so it is listed only
    when `store` is given; every service passes it (the runners need the store anyway). Without
    a store (tests that only build the case views) it is left out.
    """
    factories: dict[str, Callable[[], Projection]] = {"cases": lambda: CasesProjection(keyring)}
    if store is not None:
        factories["federal_inputs"] = lambda: FederalInputsProjection(store)
    return factories

"""Every projection Haven runs, by name."""

from __future__ import annotations

from collections.abc import Callable

from crypto.keyring import Keyring
from events.store import PostgresEventStore
from projections.activities import ActivitiesProjection
from projections.base import Projection
from projections.case_finder import CaseFinderProjection
from projections.cases import CasesProjection
from projections.directory import DirectoryProjection
from projections.federal_inputs import FederalInputsProjection
from projections.organisations import OrganisationsProjection
from projections.referral_inbox import ReferralInboxProjection
from projections.screenings import ScreeningsProjection
from projections.tasks import TasksProjection

PROJECTION_TYPES: tuple[type[Projection], ...] = (
    CasesProjection,
    FederalInputsProjection,
    ScreeningsProjection,
    ActivitiesProjection,
    DirectoryProjection,
    OrganisationsProjection,
    ReferralInboxProjection,
    CaseFinderProjection,
    TasksProjection,
)


def projection_factories(
    keyring: Keyring, store: PostgresEventStore
) -> dict[str, Callable[[], Projection]]:
    """name -> a factory of fresh instances (each runner or rebuild has its own caches).
    `federal_inputs` reads a case's stream from the store when its facts are not cached."""
    return {
        "cases": lambda: CasesProjection(keyring),
        "federal_inputs": lambda: FederalInputsProjection(store),
        "screenings": ScreeningsProjection,
        "activities": ActivitiesProjection,
        "directory": DirectoryProjection,
        "organisations": OrganisationsProjection,
        "referral_inbox": ReferralInboxProjection,
        "case_finder": lambda: CaseFinderProjection(keyring),
        "tasks": TasksProjection,
    }

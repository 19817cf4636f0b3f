"""The receiving organisation's answer to a transfer request: accept it or decline it.

The sending case is read on the recipient's behalf, which only its pending request, addressed
to this organisation, allows (`CaseUseCases.accept_transfer`, `decline_transfer`).
"""

from __future__ import annotations

import datetime as dt

from services.bootstrap import Runtime
from services.commands.ports import Actor
from services.commands.use_cases import CaseUseCases


async def accept_transfer(
    runtime: Runtime,
    actor: Actor,
    sending_organisation: str,
    case_id: str,
    transfer_id: str,
    accepted_on: dt.date,
) -> int:
    """The case opens here as `transfer_id`; returns its version."""
    use_cases = CaseUseCases(runtime.store)
    version = await use_cases.accept_transfer(
        actor, sending_organisation, case_id, transfer_id, accepted_on
    )
    if runtime.recent is not None:
        runtime.recent.remember(use_cases.appended)
    return version


async def decline_transfer(
    runtime: Runtime,
    actor: Actor,
    sending_organisation: str,
    case_id: str,
    transfer_id: str,
    declined_on: dt.date,
    reason: str | None,
) -> int:
    """The case stays with its organisation; returns the sending case's version."""
    use_cases = CaseUseCases(runtime.store)
    version = await use_cases.decline_transfer(
        actor, sending_organisation, case_id, transfer_id, declined_on, reason
    )
    if runtime.recent is not None:
        runtime.recent.remember(use_cases.appended)
    return version

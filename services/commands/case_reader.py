"""The one way to learn a case's state: from its stream, or from the sealed case view when
that is current, or from the state this process's own last command left.

Every path that needs a case's state (the API's reads and commands, the use cases, the demo)
comes through here, so "missing", "another organisation's" and "erased" mean the same
everywhere: an empty state, which authorisation answers as "no such case".
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from domain.case.events import CASE_EVENTS
from domain.case.state import CaseState, fold
from events.errors import StreamErased, StreamNotFound, TamperDetected
from projections.case_view import read_current_state
from services.bootstrap import Runtime
from services.commands.ports import CaseStore
from services.observability.logging import get_logger


async def read_history(
    store: CaseStore | Any, organisation_id: str, case_id: uuid.UUID
) -> tuple[CaseState, Sequence[Any]]:
    """The case folded from its stream, with the stored events; empty when it is missing,
    another organisation's, erased (an erased case answers exactly like a missing one), or
    not a case's stream at all."""
    try:
        recorded = await store.read_stream(organisation_id, case_id)
    except (StreamNotFound, StreamErased):
        return CaseState(), ()
    if not all(isinstance(r.event, CASE_EVENTS) for r in recorded if r.event is not None):
        return CaseState(), ()  # another kind of stream of the organisation (an activity's)
    return fold((r.version, r.event) for r in recorded if r.event is not None), recorded


async def read_case(store: CaseStore | Any, organisation_id: str, case_id: uuid.UUID) -> CaseState:
    """The case folded from its stream (`read_history`)."""
    state, _ = await read_history(store, organisation_id, case_id)
    return state


async def load_for(runtime: Runtime, organisation_id: str, case_id: uuid.UUID) -> CaseState:
    """The case from its stream, in the caller's organisation (`read_case`)."""
    return await read_case(runtime.store, organisation_id, case_id)


async def current_state(runtime: Runtime, organisation_id: str, case_id: uuid.UUID) -> CaseState:
    """The case as `load_for` gives it, from the sealed case view when that is at the stream's
    head version (one statement, one decryption, however long the stream), else from the
    stream — or, when the view is behind, from the state this process knows at the head's
    version (`services.recent_states`), which a command that just appended to the case left
    there. The view is authenticated with the case's key and bound to its version; a view that
    fails authentication is logged and passed over: a read model is rebuildable, the stream is
    the truth."""
    key = (organisation_id, str(case_id))
    try:
        view = await read_current_state(runtime.pool, runtime.keyring, organisation_id, case_id)
    except TamperDetected:
        get_logger("api").error("case view fails authentication", error_code="view-tampered")
    else:
        if view.state is not None:
            if runtime.recent is not None:  # (an empty state, no such case, is not kept)
                runtime.recent.remember({key: view.state})
            return view.state
        known = (
            runtime.recent.at_version(key, view.head_version)
            if runtime.recent is not None
            else None
        )
        if known is not None:
            return known
    state = await load_for(runtime, organisation_id, case_id)
    if runtime.recent is not None:
        runtime.recent.remember({key: state})
    return state


def known_at(
    runtime: Runtime, organisation_id: str, case_id: uuid.UUID, version: int | None
) -> CaseState | None:
    """The case's state at `version` if this process knows it (no I/O)."""
    if version is None or runtime.recent is None:
        return None
    return runtime.recent.at_version((organisation_id, str(case_id)), version)


def latest_known(runtime: Runtime, organisation_id: str, case_id: uuid.UUID) -> CaseState | None:
    """The last state of the case this process saw, at whatever version (no I/O)."""
    if runtime.recent is None:
        return None
    return runtime.recent.latest((organisation_id, str(case_id)))

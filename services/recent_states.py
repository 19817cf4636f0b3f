"""Case states this process has just seen, so a command need not re-read a stream the
projector has not caught up with yet.

Under load the `cases` view trails the commands by a batch: the next command (or read) on a
case often finds the view a version behind and would decrypt and fold the whole stream
(`services.commands.case_reader.current_state`). This process usually knows that state already:
it read the case at version v and appended events w+1..v', or it just folded the stream.

**Why a cached state can be trusted.** An entry is *the fold of the stream at its version*:
either what a read returned (the view at the head's version, or the stream), or such a state
plus the events an append at exactly that version committed. Streams are append-only and
versions strictly increase, so when the stream's head is still at the entry's version the
entry is the current state. `current_state` uses an entry only after reading the head's
version in the same statement as the view (`projections.case_view.read_current_state`) and only
when they match; an erased stream answers as empty before the cache is asked. A read of a
case (`GET /v1/cases/{id}`, not a supervisor's) is decided on the latest entry and answered
from it only if its access record, written in one statement guarded by the stream's version
and key, was written (`events.access_log.record_access(at_version=...)`); else it is decided
again on the stored case. A command naming the
entry's version in `If-Match` is decided on it without a read
(`services.commands.case_commands`): only a success is answered from it, and the
append's version, chain-head and key checks make a success proof that the entry was current;
any other outcome is decided again on the stored case.

Memory only, bounded (LRU), per process; nothing is written anywhere. An erasure through this
process drops the case's entry, and one through another process drops it when its
notification arrives (`events.erasure.ErasureWatch`); until then the entry is never used (the
statement that reads the head answers "erased" first, and an append to an erased stream fails).
"""

from __future__ import annotations

from collections.abc import Mapping

from cachetools import LRUCache

from domain.case.state import CaseState

CaseKey = tuple[str, str]  # (organisation id, case id)


class RecentStates:
    def __init__(self, size: int = 10_000) -> None:
        self._states: LRUCache[CaseKey, CaseState] = LRUCache(size)

    def remember(self, states: Mapping[CaseKey, CaseState]) -> None:
        for key, state in states.items():
            if state.version:
                self._states[key] = state

    def forget(self, key: CaseKey) -> None:
        self._states.pop(key, None)

    def clear(self) -> None:
        self._states.clear()

    def latest(self, key: CaseKey) -> CaseState | None:
        """The last state of the case this process saw, at whatever version."""
        return self._states.get(key)

    def at_version(self, key: CaseKey, version: int) -> CaseState | None:
        """The state of the case at `version` if this process knows it."""
        state = self.latest(key)
        return state if state is not None and state.version == version else None

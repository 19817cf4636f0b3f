"""Case states this process has just seen, so a command need not re-read a stream the
projector has not caught up with yet.

Under load the `cases` view trails the commands by a batch, and the next command or read on a
case would otherwise decrypt and fold the whole stream (`services.commands.case_reader`).

An entry is the fold of its stream at the entry's version: what a read returned, or such a
state plus the events an append at exactly that version committed. Streams are append-only,
so the entry is the current state while the stream's head is at its version, and it is used
only under a statement that checks so: the head read with the view
(`projections.case_view.read_current_state`), a read's access record guarded by the version
and key (`events.access_log.record_access(at_version=...)`), or a command's append
(`services.commands.case_commands`). Any other outcome is decided again on the stored case;
docs/security.md tells why a stale entry never authorises anything.

Memory only, bounded (LRU), per process. An erasure drops the case's entry here, or when its
notification arrives from another process (`events.erasure.ErasureWatch`); meanwhile the
statement that reads the head answers "erased" first.
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

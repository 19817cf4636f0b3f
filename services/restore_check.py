"""Erasures that survive a restore: the database corrected against the erasure list.

`check_erasures(runtime)` reads the erasure list outside the database (`events.erasure_list`)
and erases again every listed case the database holds and does not show as erased (a database
restored from a backup taken before those erasures), through the same path as an erasure
(`case_privacy.shred_everywhere`), one transaction per case; erasing an erased case is a no-op,
so the check is idempotent. It also lists every erasure the database shows and the list lacks
(erased before the list was kept, or by a process without it), so the list stays complete.

`haven restore-check` runs it and prints what it did; a server runs it at start-up before it
answers any request (`services.api.asgi`, `haven serve`), so a restored database never serves
an erased case. What it reports is ids and dates only.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import NamedTuple

from events.erasure_list import ErasureList, ListedErasure
from events.errors import StreamNotFound
from services.bootstrap import Runtime
from services.commands.case_privacy import forget_in_memory, shred_everywhere

_ERASED_IN_DATABASE = """
    SELECT tenant_id, stream_id, shredded_at FROM haven.streams WHERE shredded_at IS NOT NULL"""
_STILL_HELD = """
    SELECT s.tenant_id, s.stream_id
      FROM haven.streams s JOIN unnest($1::text[], $2::uuid[]) AS w(tenant_id, stream_id)
        ON s.tenant_id = w.tenant_id AND s.stream_id = w.stream_id
     WHERE s.wrapped_key IS NOT NULL"""


class RestoreCheck(NamedTuple):
    listed: int  # erasures in the list
    erased_again: list[ListedErasure]  # listed, but readable in the database: erased now
    absent: int  # listed cases the database does not hold at all (created after the backup)
    added_to_list: list[ListedErasure]  # erased in the database, missing from the list
    unreadable_lines: int  # lines of the list that are not an erasure (a torn last line)

    def lines(self) -> list[str]:
        """What the check did, one line each: ids and dates only."""
        out = [
            f"erased again  {e.organisation_id}/{e.case_id} (erased {_day(e)})"
            for e in self.erased_again
        ]
        out += [
            f"listed        {e.organisation_id}/{e.case_id} (erased {_day(e)})"
            for e in self.added_to_list
        ]
        return out

    def summary(self) -> str:
        unreadable = (
            f", {self.unreadable_lines} unreadable lines skipped" if self.unreadable_lines else ""
        )
        return (
            f"{self.listed} erasures listed, {len(self.erased_again)} erased again, "
            f"{self.absent} not in this database, {len(self.added_to_list)} added to the "
            f"list{unreadable}"
        )


def _day(entry: ListedErasure) -> str:
    return entry.erased_at.strftime("%Y-%m-%d")


async def check_erasures(runtime: Runtime, erasure_list: ErasureList | None = None) -> RestoreCheck:
    """Correct the database against the erasure list, and the list against the database."""
    chosen = erasure_list or runtime.erasure_list
    if chosen is None:
        raise ValueError("no erasure list to check against")
    listing = await asyncio.to_thread(chosen.read)
    listed: dict[tuple[str, uuid.UUID], ListedErasure] = {}
    for entry in listing.erasures:
        listed.setdefault((entry.organisation_id, entry.case_id), entry)
    still_held = await runtime.pool.fetch(
        _STILL_HELD, [k[0] for k in listed], [k[1] for k in listed]
    )
    erased_again: list[ListedErasure] = []
    absent = 0
    for tenant, case_id in sorted((row["tenant_id"], row["stream_id"]) for row in still_held):
        try:
            async with runtime.store.transaction() as conn:
                await shred_everywhere(runtime, conn, tenant, case_id)
        except StreamNotFound:
            absent += 1
            continue
        forget_in_memory(runtime, tenant, case_id)
        erased_again.append(listed[(tenant, case_id)])
    held = {(row["tenant_id"], row["stream_id"]) for row in still_held}
    erased_rows = await runtime.pool.fetch(_ERASED_IN_DATABASE)
    in_database = {(row["tenant_id"], row["stream_id"]) for row in erased_rows}
    absent += sum(1 for key in listed if key not in held and key not in in_database)
    missing = [
        ListedErasure(row["tenant_id"], row["stream_id"], row["shredded_at"])
        for row in sorted(erased_rows, key=lambda r: (r["shredded_at"], r["tenant_id"]))
        if (row["tenant_id"], row["stream_id"]) not in listed
    ]
    await asyncio.to_thread(chosen.append, missing)
    return RestoreCheck(len(listed), erased_again, absent, missing, listing.unreadable_lines)

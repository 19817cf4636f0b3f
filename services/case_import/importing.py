"""Importing a CSV of intakes (one row per client, `services.case_import.columns`).

Each row is held to what `POST /v1/cases` holds a body to: its members' types, the text rules
(`domain.text`), then the intake's domain rules (`decide` on an empty case, as the use case
does), and is opened through `CaseUseCases.open_case` by the importing worker, in the
organisation named, its events recorded as theirs with one correlation id per run.

Re-running an import creates nothing twice. A row's case id is derived from the organisation
and the row's `import_ref`: a keyed hash (HMAC-SHA256 under the organisation's own secret, the
one that hashes Idempotency-Keys, `events.idempotency.KeyHasher`) turned into a UUID, so a
reference seen again names the same case, which exists already (outcome `exists`, whatever
the row holds now), and a case id says nothing of the reference to anyone without the secret.
A case opened and later erased stays erased: importing the file again does not bring it back.

Rows are numbered as a spreadsheet numbers them: the header is row 1. The report names a row
by its number and a fault by its column, never with a value. A dry run reports the same and
records nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections.abc import Callable, Iterator
from typing import Literal

import asyncpg
import msgspec

from domain.case.commands import OpenCase
from domain.case.decide import decide
from domain.case.errors import DomainError
from domain.case.state import CaseState
from events.errors import ConcurrencyConflict
from events.idempotency import KeyHasher
from events.store import utc_now
from services.bootstrap import Runtime
from services.case_import.columns import IMPORT_REF, Fault, header_faults, row_body
from services.commands.ports import Actor
from services.commands.use_cases import CaseUseCases

Outcome = Literal["created", "exists", "refused"]
MAX_ROWS = 100_000
# The HMAC's "actor" for case ids, apart from every user's Idempotency-Keys (no user id has ":").
_REFERENCE_SPACE = "haven:case-import"
_CASE_IDS = uuid.UUID("0b6f3c1e-8d2a-5e7f-9a41-6c3d2b1e0f5a")


class FileRefused(Exception):
    """The file as a whole cannot be imported (not CSV text, a header it cannot use)."""

    def __init__(self, faults: list[str]) -> None:
        super().__init__("; ".join(faults))
        self.faults = faults


class ImportedRow(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    row: int  # as a spreadsheet numbers it: the header is row 1
    outcome: Outcome
    case_id: str | None = None
    faults: tuple[Fault, ...] = ()


class ImportReport(msgspec.Struct, frozen=True, kw_only=True):
    dry_run: bool
    created: int
    exists: int
    refused: int
    rows: tuple[ImportedRow, ...]


def read_rows(text: str) -> Iterator[tuple[int, dict[str, str] | None]]:
    """(row number, cells by column) of each row with anything in it; None for a row whose
    cells do not line up with the header. `FileRefused` for a header the import cannot use."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise FileRefused(["the file is empty"]) from None
    faults = header_faults(header)
    if faults:
        raise FileRefused(faults)
    for number, cells in enumerate(reader, start=2):
        if number > MAX_ROWS + 1:
            raise FileRefused([f"the file has more than {MAX_ROWS} rows; import it in parts"])
        if not any(cell.strip() for cell in cells):
            continue
        yield number, dict(zip(header, cells, strict=True)) if len(cells) == len(header) else None


async def case_id_of(
    hasher: KeyHasher, pool: asyncpg.Pool, organisation_id: str, reference: str
) -> str:
    """The case id a row's `import_ref` names in the organisation (module doc)."""
    keyed = await hasher.stored(pool, organisation_id, _REFERENCE_SPACE, reference)
    return str(uuid.uuid5(_CASE_IDS, keyed))


async def import_cases(
    runtime: Runtime,
    actor: Actor,
    team_id: str,
    text: str,
    *,
    dry_run: bool = False,
    clock: Callable[[], dt.datetime] = utc_now,
) -> ImportReport:
    """Open a case for every acceptable row not imported before (module doc)."""
    use_cases = CaseUseCases(runtime.store, clock=clock)
    hasher = runtime.key_hasher()
    actor = actor._replace(request_id=actor.request_id or f"case-import-{uuid.uuid4()}")
    seen: dict[str, int] = {}
    rows = []
    for number, cells in read_rows(text):
        if cells is None:
            fault = Fault("", "does not have as many cells as the header has columns")
            rows.append(ImportedRow(row=number, outcome="refused", faults=(fault,)))
            continue
        parsed, faults = row_body(cells)
        if parsed is not None and parsed.import_ref in seen:
            faults = [Fault(IMPORT_REF, f"repeats the reference of row {seen[parsed.import_ref]}")]
        if parsed is None or faults:
            rows.append(ImportedRow(row=number, outcome="refused", faults=tuple(faults)))
            continue
        seen[parsed.import_ref] = number
        case_id = await case_id_of(
            hasher, runtime.store.pool, actor.organisation_id, parsed.import_ref
        )
        command = parsed.body.command(
            case_id=case_id,
            organisation_id=actor.organisation_id,
            worker_id=actor.user_id,
            team_id=team_id,
        )
        rows.append(await _import_one(runtime, use_cases, actor, number, command, dry_run))
    count = {kind: sum(r.outcome == kind for r in rows) for kind in Outcome.__args__}  # type: ignore[attr-defined]
    return ImportReport(
        dry_run=dry_run,
        created=count["created"],
        exists=count["exists"],
        refused=count["refused"],
        rows=tuple(rows),
    )


async def _import_one(
    runtime: Runtime,
    use_cases: CaseUseCases,
    actor: Actor,
    number: int,
    command: OpenCase,
    dry_run: bool,
) -> ImportedRow:
    case_id = command.case_id
    if await runtime.store.stream_version(actor.organisation_id, uuid.UUID(case_id)) > 0:
        return ImportedRow(row=number, outcome="exists", case_id=case_id)
    try:
        if dry_run:
            decide(CaseState(), command, use_cases.context(actor))
        else:
            await use_cases.open_case(actor, command)
    except DomainError as refused:  # its message names the rule, never a value
        fault = Fault("", f"{refused.code}: {refused}")
        return ImportedRow(row=number, outcome="refused", faults=(fault,))
    except ConcurrencyConflict:  # another run opened it meanwhile
        return ImportedRow(row=number, outcome="exists", case_id=case_id)
    return ImportedRow(row=number, outcome="created", case_id=case_id)

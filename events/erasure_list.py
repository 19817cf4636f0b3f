"""The erasure list: every erasure, kept outside the database, so a restore cannot undo one.

A database restored from a backup has lost the erasures made after that backup was taken: their
cases' wrapped data keys are back, and with the key material the cases read again. This list,
a file beside the key material (`HAVEN_ERASURE_LOG`, default `$HAVEN_DATA_DIR/erasures.log`),
remembers them: `haven restore-check` and the server's start-up erase again every listed case
the database does not show as erased (`services.restore_check`).

One JSON line per erasure, appended and fsynced inside the erasure's transaction, before it
commits, so a committed erasure is always listed (an erasure whose commit then fails is
listed too, and is completed by the next check):

    {"organisation": "org-harbor", "case": "<uuid>", "erased_at": "2026-12-07T13:40:00Z"}

Ids and a date only: the list says which cases were erased and when, never anything about the
survivor, not even the ground. Appends are single `write`s on a file opened `O_APPEND`, so the
server's worker processes can share it; a torn last line (a crash mid-write) is skipped on
reading and counted.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from pathlib import Path
from typing import NamedTuple

MAX_ORGANISATION_ID = 256


class ListedErasure(NamedTuple):
    organisation_id: str
    case_id: uuid.UUID
    erased_at: dt.datetime


class ErasureListing(NamedTuple):
    erasures: list[ListedErasure]
    unreadable_lines: int  # torn or foreign lines, skipped


class ErasureList:
    """The append-only file of erasures at `path` (created with mode 0600 on first append)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, entries: list[ListedErasure]) -> None:
        """Add `entries`, one line each, and fsync before returning (blocking: call it from a
        thread in async code)."""
        if not entries:
            return
        data = b"".join(_line(entry) for entry in entries)
        created = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":  # after a torn line: a line of its own
                data = b"\n" + data
            written = os.write(fd, data)
            if written != len(data):
                raise OSError("short write to the erasure list")
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:  # the new file's name must survive a crash too
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    def read(self) -> ErasureListing:
        """Every listed erasure, in the order appended; a missing file lists none."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return ErasureListing([], 0)
        erasures: list[ListedErasure] = []
        unreadable = 0
        for line in raw.splitlines():
            if not line.strip():
                continue
            entry = _parse(line)
            if entry is None:
                unreadable += 1
            else:
                erasures.append(entry)
        return ErasureListing(erasures, unreadable)


def listed_now(organisation_id: str, case_id: uuid.UUID) -> ListedErasure:
    return ListedErasure(organisation_id, case_id, dt.datetime.now(dt.UTC))


def _line(entry: ListedErasure) -> bytes:
    when = entry.erased_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    document = {
        "organisation": entry.organisation_id,
        "case": str(entry.case_id),
        "erased_at": when,
    }
    return json.dumps(document, separators=(",", ":")).encode() + b"\n"


def _parse(line: bytes) -> ListedErasure | None:
    try:
        document = json.loads(line)
        organisation = document["organisation"]
        case_id = uuid.UUID(document["case"])
        erased_at = dt.datetime.strptime(document["erased_at"], "%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not (
        isinstance(organisation, str)
        and 0 < len(organisation) <= MAX_ORGANISATION_ID
        and organisation.isprintable()
    ):
        return None
    return ListedErasure(organisation, case_id, erased_at.replace(tzinfo=dt.UTC))

"""`haven verify`: walk every stream, check its hash chain, head anchor and tags.

Chains need no key, so an erased (crypto-shredded) stream is still checked; where a data key
is available, every event's AES-GCM tag is checked too. Findings name the stream, version and
problem — never any content. Opening every event is a system decryption of every case: it is
recorded in the access log first (`events.disclosures`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

import asyncpg

from crypto.chain import GENESIS, next_link
from crypto.errors import DecryptionError
from crypto.keyring import DataKey, Keyring, WrappedDataKey
from events.disclosures import record_system_access
from events.recorded import EVENT_COLUMNS, header_of


class Finding(NamedTuple):
    tenant_id: str
    stream_id: uuid.UUID
    version: int | None
    problem: str


class VerifyReport(NamedTuple):
    streams: int
    events: int
    erased_streams: int
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not self.findings


class _StreamCheck:
    """The running state of one stream's walk."""

    def __init__(self, head: Any, data_key: DataKey | None) -> None:
        self.head = head
        self.data_key = data_key
        self.link = GENESIS
        self.last_version = 0


async def verify_store(
    pool: asyncpg.Pool, keyring: Keyring, *, progress: Callable[[int], None] | None = None
) -> VerifyReport:
    findings: list[Finding] = []
    events = erased = 0
    # a system decryption of every case, recorded before anything is opened
    await record_system_access(pool, part="verify", purpose="integrity-check")
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        heads = {
            (row["tenant_id"], row["stream_id"]): row
            for row in await conn.fetch(
                "SELECT tenant_id, stream_id, version, head_hash, key_id, kek_id, wrapped_key"
                " FROM haven.streams"
            )
        }
        checks: dict[tuple[str, uuid.UUID], _StreamCheck] = {}
        cursor = conn.cursor(
            f"SELECT {EVENT_COLUMNS} FROM haven.events ORDER BY tenant_id, stream_id, version",
            prefetch=2000,
        )
        async for row in cursor:
            events += 1
            if progress and events % 10_000 == 0:
                progress(events)
            ident = (row["tenant_id"], row["stream_id"])
            check = checks.get(ident)
            if check is None:
                head = heads.get(ident)
                if head is None:
                    findings.append(
                        Finding(*ident, row["version"], "event of a stream that has no head")
                    )
                    checks[ident] = check = _StreamCheck(None, None)
                else:
                    check = checks[ident] = _StreamCheck(head, _data_key(keyring, head, findings))
                    erased += head["wrapped_key"] is None
            if check.head is None:
                continue
            _check_event(check, row, findings)
        for ident, head in heads.items():
            check = checks.get(ident)
            if check is None:
                findings.append(Finding(*ident, None, "stream head without events"))
            elif check.last_version != head["version"] or check.link != head["head_hash"]:
                findings.append(
                    Finding(*ident, head["version"], "stream does not end at its recorded head")
                )
    return VerifyReport(len(heads), events, erased, findings)


def _data_key(keyring: Keyring, head: Any, findings: list[Finding]) -> DataKey | None:
    if head["wrapped_key"] is None:
        return None
    try:
        return keyring.unwrap(
            head["tenant_id"],
            str(head["stream_id"]),
            WrappedDataKey(head["key_id"], head["kek_id"], head["wrapped_key"]),
        )
    except DecryptionError:
        findings.append(
            Finding(head["tenant_id"], head["stream_id"], None, "data key does not unwrap")
        )
        return None


def _check_event(check: _StreamCheck, row: Any, findings: list[Finding]) -> None:
    ident = (row["tenant_id"], row["stream_id"])
    version = row["version"]
    if version != check.last_version + 1:
        findings.append(
            Finding(*ident, version, f"gap: version {version} follows {check.last_version}")
        )
    check.last_version = version
    header = header_of(row)
    check.link = next_link(check.link, header, row["ciphertext"])
    if check.link != row["chain_hash"]:
        findings.append(Finding(*ident, version, "hash chain broken"))
        check.link = row["chain_hash"]  # report each break once, not every later link
    if row["key_id"] != check.head["key_id"]:
        findings.append(Finding(*ident, version, "event names another data key"))
    elif check.data_key is not None:
        try:
            check.data_key.aead.open(row["ciphertext"], header)
        except DecryptionError:
            findings.append(Finding(*ident, version, "authentication tag does not verify"))

"""Signed checkpoints of the log, kept outside the database, and checking the log against one.

The hash chains make a stream's history tamper-evident only as far as its head row: someone
who can rewrite the tables (a database superuser, the tables' owner) can delete a stream's
newest events and reset its head to match, or delete a whole stream, and the chains still
verify. A checkpoint closes that gap. `take_checkpoint` reads, in one snapshot, every stream's
head (organisation, stream, version, chain hash), the log's last position and the counts; it
signs their Merkle root and the counts with an Ed25519 key that lives outside the database
(`crypto.signing`), and the document goes to a file, a directory or an external store.

`check_against` then finds, in the database as it is now: a stream of the checkpoint that is
gone (deleted), a stream whose event at the checkpointed version is missing (truncated) or has
another chain hash (rewritten, or rolled back and written again), and a log or stream count
below the checkpoint's (rolled back). Growth after the checkpoint is expected; erasure is
not a change here (the chain and head stay). The document must be signed by the configured
key: one signed by any other key, or edited, is refused before anything is compared.

The document holds ids, versions and hashes only: nothing about a person.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable
from typing import Any, NamedTuple

import asyncpg
from cryptography.hazmat.primitives.asymmetric import ed25519

from crypto.signing import public_bytes, signature_holds

FORMAT = "haven.checkpoint/1"


class CheckpointError(Exception):
    """A checkpoint document that is malformed, edited or signed by another key."""


class Leaf(NamedTuple):
    tenant_id: str
    stream_id: str
    version: int
    head_hash: str  # hex


def _leaf_hash(leaf: Leaf) -> bytes:
    return hashlib.sha256(b"\x00" + json.dumps(list(leaf), separators=(",", ":")).encode()).digest()


def merkle_root(leaves: Iterable[Leaf]) -> str:
    """SHA-256 Merkle root of the leaves in (organisation, stream) order (RFC 6962 style
    domain separation: 0x00 for a leaf, 0x01 for a node; an odd node is carried up)."""
    level = [_leaf_hash(leaf) for leaf in sorted(leaves)]
    if not level:
        return hashlib.sha256(b"").hexdigest()
    while len(level) > 1:
        level = [
            hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest()
            if i + 1 < len(level)
            else level[i]
            for i in range(0, len(level), 2)
        ]
    return level[0].hex()


def _signed_part(document: dict[str, Any]) -> bytes:
    body = {
        name: document[name]
        for name in (
            "format",
            "taken_at",
            "log_position",
            "events",
            "streams",
            "merkle_root",
            "public_key",
        )
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


async def take_checkpoint(pool: asyncpg.Pool, key: ed25519.Ed25519PrivateKey) -> dict[str, Any]:
    """The signed checkpoint of the log as committed now (one snapshot)."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        heads = await conn.fetch(
            "SELECT tenant_id, stream_id, version, head_hash FROM haven.streams"
        )
        events = await conn.fetchval("SELECT count(*) FROM haven.events")
        last = await conn.fetchrow(
            "SELECT transaction_id::text, position FROM haven.events"
            " ORDER BY transaction_id DESC, position DESC LIMIT 1"
        )
        taken_at = await conn.fetchval("SELECT now()")
    leaves = sorted(Leaf(r[0], str(r[1]), r[2], bytes(r[3]).hex()) for r in heads)
    document: dict[str, Any] = {
        "format": FORMAT,
        "taken_at": taken_at.astimezone(dt.UTC).isoformat(),
        "log_position": [last[0], last[1]] if last else None,
        "events": int(events),
        "streams": len(leaves),
        "merkle_root": merkle_root(leaves),
        "public_key": public_bytes(key).hex(),
    }
    document["signature"] = key.sign(_signed_part(document)).hex()
    document["heads"] = [list(leaf) for leaf in leaves]
    return document


def _opened(document: dict[str, Any], public_key: bytes) -> list[Leaf]:
    """The checkpoint's leaves, once its signature (by `public_key`) and root hold."""
    try:
        if document["format"] != FORMAT:
            raise CheckpointError("not a Haven checkpoint")
        if bytes.fromhex(document["public_key"]) != public_key:
            raise CheckpointError("the checkpoint is signed by another key than the configured one")
        if not signature_holds(
            public_key, bytes.fromhex(document["signature"]), _signed_part(document)
        ):
            raise CheckpointError("the checkpoint's signature does not verify (edited, or forged)")
        leaves = [Leaf(str(h[0]), str(h[1]), int(h[2]), str(h[3])) for h in document["heads"]]
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise CheckpointError(f"malformed checkpoint ({type(error).__name__})") from None
    if merkle_root(leaves) != document["merkle_root"] or len(leaves) != document["streams"]:
        raise CheckpointError("the checkpoint's stream heads do not match its signed root")
    return leaves


class Divergence(NamedTuple):
    tenant_id: str | None
    stream_id: str | None
    version: int | None
    problem: str


async def check_against(
    pool: asyncpg.Pool, document: dict[str, Any], public_key: bytes
) -> list[Divergence]:
    """How the log now departs from the checkpoint (module doc); empty when it only grew."""
    leaves = _opened(document, public_key)
    found: list[Divergence] = []
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        events = await conn.fetchval("SELECT count(*) FROM haven.events")
        streams = await conn.fetchval("SELECT count(*) FROM haven.streams")
        rows = await conn.fetch(
            """SELECT w.tenant_id, w.stream_id, w.version, s.stream_id IS NOT NULL, e.chain_hash
                 FROM unnest($1::text[], $2::uuid[], $3::int[]) AS w(tenant_id, stream_id, version)
                 LEFT JOIN haven.streams s
                        ON s.tenant_id = w.tenant_id AND s.stream_id = w.stream_id
                 LEFT JOIN haven.events e
                        ON e.tenant_id = w.tenant_id AND e.stream_id = w.stream_id
                       AND e.version = w.version""",
            [leaf.tenant_id for leaf in leaves],
            [uuid.UUID(leaf.stream_id) for leaf in leaves],
            [leaf.version for leaf in leaves],
        )
    expected = {(leaf.tenant_id, leaf.stream_id): leaf for leaf in leaves}
    for tenant_id, stream_id, version, has_head, chain_hash in rows:
        leaf = expected[(tenant_id, str(stream_id))]
        if not has_head:
            found.append(
                Divergence(tenant_id, str(stream_id), None, "stream deleted since the checkpoint")
            )
        elif chain_hash is None:
            found.append(
                Divergence(
                    tenant_id,
                    str(stream_id),
                    version,
                    "stream truncated below its checkpointed head",
                )
            )
        elif bytes(chain_hash).hex() != leaf.head_hash:
            found.append(
                Divergence(
                    tenant_id, str(stream_id), version, "event at the checkpointed head rewritten"
                )
            )
    if events < document["events"]:
        found.append(
            Divergence(
                None, None, None, f"the log holds fewer events ({events}) than the checkpoint"
            )
        )
    if streams < document["streams"]:
        found.append(Divergence(None, None, None, f"fewer streams ({streams}) than the checkpoint"))
    return found

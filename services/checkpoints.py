"""Writing signed log checkpoints (`events.checkpoint`) where an administrator keeps them.

`haven checkpoint [--out PATH]` writes one: to standard output, to the file `PATH`, or (when
`PATH` is a directory) to `PATH/checkpoint-<UTC time>.json`. `haven worker` writes one to
`HAVEN_CHECKPOINT_DIR` every `HAVEN_CHECKPOINT_INTERVAL` seconds when that is set. Files are
written whole under a temporary name and renamed into place, mode 0600. Ship them to storage
the database's administrators cannot rewrite (another host, object storage with retention
lock): a checkpoint they can edit proves nothing against them — though they cannot forge one,
since the signing key (`HAVEN_CHECKPOINT_KEY`) is not in the database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

import asyncpg

from crypto.signing import open_signing_key, public_bytes
from events.checkpoint import CheckpointError, check_against, take_checkpoint
from services.observability.logging import get_logger
from services.settings import Settings

_log = get_logger("checkpoints")


def signing_key(settings: Settings, *, create: bool = True):  # noqa: ANN201 (an Ed25519PrivateKey)
    return open_signing_key(settings.checkpoint_key_path, "checkpoint signing key", create=create)


def write_document(document: dict[str, Any], out: Path | None) -> Path | None:
    """Write `document` (module doc); the file written, or None for standard output."""
    text = json.dumps(document, indent=1) + "\n"
    if out is None:
        sys.stdout.write(text)
        return None
    if out.is_dir():
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        out = out / f"checkpoint-{stamp}.json"
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, out)
    return out


async def checkpoint_now(pool: asyncpg.Pool, settings: Settings, out: Path | None) -> Path | None:
    return write_document(await take_checkpoint(pool, signing_key(settings)), out)


async def check_checkpoint(pool: asyncpg.Pool, settings: Settings, path: Path) -> list[str]:
    """Findings, as lines, of the log against the checkpoint in `path` (empty: it only grew)."""
    try:
        document = json.loads(path.read_text())
        divergences = await check_against(
            pool, document, public_bytes(signing_key(settings, create=False))
        )
    except (OSError, ValueError) as error:
        raise CheckpointError(f"cannot read checkpoint {path} ({type(error).__name__})") from None
    lines = []
    for d in divergences:
        where = f"{d.tenant_id}/{d.stream_id}" if d.stream_id else "log"
        version = f" version {d.version}" if d.version is not None else ""
        lines.append(f"{where}{version}: {d.problem}")
    return lines


async def checkpoint_periodically(pool: asyncpg.Pool, settings: Settings) -> None:
    """`haven worker`: a checkpoint into `settings.checkpoint_dir` every interval, until
    cancelled."""
    assert settings.checkpoint_dir is not None
    settings.checkpoint_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    while True:
        try:
            await checkpoint_now(pool, settings, settings.checkpoint_dir)
            _log.info("checkpoint written")
        except (
            OSError,  # DatabaseUnavailable and TimeoutError too
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
            asyncpg.InternalClientError,
        ) as error:
            _log.warning(
                "checkpoint failed", exc_type=type(error).__name__, error_code="checkpoint-failed"
            )
        await asyncio.sleep(settings.checkpoint_interval)

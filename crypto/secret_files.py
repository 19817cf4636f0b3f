"""Key files on local disk: created once, atomically, readable by their owner only."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def create_secret_file(path: Path, body: bytes) -> None:
    """Write `body` to a new file at `path`, mode 0600, unless the file already exists.

    Written in full under a temporary name, then linked into place: `link` fails if the file
    exists, so of two processes starting together exactly one creates it (the other keeps the
    winner's), and neither can ever read a half-written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)

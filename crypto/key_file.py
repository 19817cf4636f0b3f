"""The local key file: its JSON layout, how it is read, and how a change is written in place.

``{"format": "haven-kek-file", "active": "k2", "keys": {"k1": "<b64>", "k2": "<b64>"},
"created": {"k2": "<ISO time>"}, "retired": {"k0": {"created": ..., "retired": ...}}}``.
`keys` holds every master key that still unwraps; `active` names the one that wraps;
`retired` keeps the dates of keys removed from `keys` (never their material). A file with
only `format`, `active` and `keys` is valid too: its keys' creation time is unknown.

A change is written under a temporary name (mode 0600), flushed to disk, renamed over the
file and the directory flushed, so a reader sees the file before or after the change, never a mix;
`locked` serialises writers (two rotations at once) with a lock file beside the key file.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from crypto.aead import random_key
from crypto.errors import KeyProviderError

FILE_FORMAT = "haven-kek-file"


@dataclass
class KeyFile:
    active: str
    keys: dict[str, bytes] = field(repr=False)
    created: dict[str, str] = field(default_factory=dict)
    retired: dict[str, dict[str, str]] = field(default_factory=dict)

    def next_name(self) -> str:
        numbers = [
            int(name[1:])
            for name in (*self.keys, *self.retired)
            if name[:1] == "k" and name[1:].isdigit()
        ]
        return f"k{max(numbers, default=0) + 1}"


def now_text() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def name_order(name: str) -> tuple[int, str]:
    """`k2` before `k10`."""
    return (len(name), name)


def new_key_file() -> KeyFile:
    return KeyFile("k1", {"k1": random_key()}, {"k1": now_text()})


def encode_key_file(key_file: KeyFile) -> bytes:
    document: dict[str, object] = {
        "format": FILE_FORMAT,
        "active": key_file.active,
        "keys": {name: base64.b64encode(key).decode() for name, key in key_file.keys.items()},
    }
    if key_file.created:
        document["created"] = key_file.created
    if key_file.retired:
        document["retired"] = key_file.retired
    return json.dumps(document, indent=1).encode()


def read_key_file(path: Path) -> KeyFile:
    """The file's keys; `KeyProviderError` naming the file (never its content) otherwise."""
    try:
        if path.stat().st_mode & 0o077:
            raise KeyProviderError(
                f"key file {path} must not be readable by group or others (chmod 600)"
            )
        document = json.loads(path.read_bytes())
        if not isinstance(document, dict) or document.get("format") != FILE_FORMAT:
            raise KeyProviderError(f"{path} is not a Haven key file")
        keys = {
            name: base64.b64decode(value, validate=True) for name, value in document["keys"].items()
        }
        active = document["active"]
        created = {str(name): str(at) for name, at in document.get("created", {}).items()}
        retired = {
            str(name): {str(k): str(v) for k, v in dates.items()}
            for name, dates in document.get("retired", {}).items()
        }
    except KeyProviderError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise KeyProviderError(f"cannot read key file {path}: {type(error).__name__}") from None
    if (
        not isinstance(active, str)
        or active not in keys
        or any(len(key) != 32 for key in keys.values())
    ):
        raise KeyProviderError(f"key file {path} is malformed")
    return KeyFile(active, keys, created, retired)


def replace_key_file(path: Path, key_file: KeyFile) -> None:
    """Write `key_file` over `path` atomically: temporary file, fsync, rename, fsync the folder."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(encode_key_file(key_file))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the key file's writer lock (a `.NAME.lock` file beside it) for the duration."""
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)

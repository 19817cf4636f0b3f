"""Key-encryption-key (KEK) providers: one per deployment, one KEK per organisation.

A provider wraps and unwraps data keys under the KEK of the organisation that owns them.
Two implementations share this interface:

* `FileKeyProvider` (`file:PATH`): a local key file created with mode 0600 on first start.
  Each organisation's KEK is derived from one of the file's master keys with HKDF-SHA256,
  salted and labelled with the organisation id, so no two organisations share a KEK.
* `Pkcs11KeyProvider` (`pkcs11:` RFC 7512 URI, in `crypto.pkcs11`): non-extractable AES-256
  key objects per organisation inside an HSM; data keys are wrapped by the HSM.

Both keep versions of a KEK (`KekAdministration`, used by `haven keys`): the active one wraps,
older ones still unwrap until `haven keys retire` removes them (docs/operations.md#key-rotation).

The `context` passed to wrap/unwrap is bound as associated data, so a wrapped data key
copied to another stream or organisation does not unwrap.
"""

from __future__ import annotations

import hmac
import os
import threading
from pathlib import Path
from typing import NamedTuple, Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto.aead import Aead, random_key
from crypto.errors import DecryptionError, KeyProviderError
from crypto.key_file import (
    encode_key_file,
    locked,
    name_order,
    new_key_file,
    now_text,
    read_key_file,
    replace_key_file,
)
from crypto.secret_files import create_secret_file


class KeyProvider(Protocol):
    def wrap(self, tenant: str, data_key: bytes, context: bytes) -> tuple[str, bytes]:
        """Wrap `data_key` under `tenant`'s current KEK; returns (kek_id, wrapped bytes)."""

    def unwrap(self, tenant: str, kek_id: str, wrapped: bytes, context: bytes) -> bytes:
        """Unwrap; raises `DecryptionError` for any failure."""

    def check(self) -> None:
        """Raise `KeyProviderError` when the provider cannot be used (for readiness)."""

    def close(self) -> None: ...


class KekVersion(NamedTuple):
    """One version of an organisation's KEK, as `haven keys status` shows it (no material)."""

    kek_id: str
    created: str | None  # ISO 8601; None when the provider does not know it
    state: str  # "active" (wraps), "retiring" (still unwraps), "retired" (removed)


class KekAdministration(Protocol):
    """What `haven keys` needs of a provider beyond wrapping: versions, rotation, retirement."""

    shared_across_organisations: bool  # one rotation serves every organisation (a key file)

    def active_kek_id(self, tenant: str) -> str: ...

    def versions(self, tenant: str) -> list[KekVersion]: ...

    def rotate(self, tenant: str) -> str:
        """Create a KEK version and make it the one that wraps; returns its kek id."""

    def retire(self, tenant: str, kek_id: str) -> None:
        """Remove a version that is not active; `KeyProviderError` otherwise."""


def wrap_associated_data(tenant: str, kek_id: str, context: bytes) -> bytes:
    return b"haven.dk.v1\x00" + tenant.encode() + b"\x00" + kek_id.encode() + b"\x00" + context


class FileKeyProvider:
    """KEKs derived from the master keys held in a local file (`crypto.key_file`).

    kek ids look like ``file:k1``. Every wrap looks at the file's identity (inode, mtime,
    size) and reads it again when it changed, and an unwrap under a name not yet known reads
    it again too: a process started before `haven keys rotate` wraps under the rotated key
    and unwraps what other processes wrapped under it. A reloaded file that gives a known
    name other material is refused (the process keeps what it had; `check` fails with
    `kek-mismatch`), so two keys never share one kek id.
    """

    shared_across_organisations = True

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self._path = path
        if create and not path.exists():
            _create_key_file(path)
        self._lock = threading.Lock()
        try:
            self._stamp: tuple[int, int, int] | None = _stamp(path)
        except OSError:
            self._stamp = None  # reading it says why
        self._file = read_key_file(path)
        self._conflict: str | None = None
        self._keks: dict[tuple[str, str], Aead] = {}

    def _refresh(self) -> None:
        try:
            stamp = _stamp(self._path)
        except OSError:
            return  # keep serving from memory; `check` reports the missing file
        if stamp == self._stamp:
            return
        with self._lock:
            if stamp == self._stamp:
                return
            try:
                loaded = read_key_file(self._path)
            except KeyProviderError as error:
                self._conflict = str(error)
                return
            known = self._file.keys
            if any(
                name in known and not hmac.compare_digest(known[name], key)
                for name, key in loaded.keys.items()
            ):
                self._conflict = f"key file {self._path} gives a known key name other material"
                return
            self._conflict = None
            self._file, self._stamp = loaded, stamp
            self._keks = {key: kek for key, kek in self._keks.items() if key[0] in loaded.keys}

    def _kek(self, name: str, tenant: str) -> Aead:
        cached = self._keks.get((name, tenant))
        if cached is None:
            master = self._file.keys.get(name)
            if master is None:
                raise KeyProviderError("key file has no key of that name")
            derived = HKDF(
                algorithm=hashes.SHA256(),
                length=32,
                salt=b"haven.kek.v1",
                info=b"organisation:" + tenant.encode(),
            ).derive(master)
            cached = self._keks[(name, tenant)] = Aead(derived)
        return cached

    def wrap(self, tenant: str, data_key: bytes, context: bytes) -> tuple[str, bytes]:
        self._refresh()
        name = self._file.active
        kek_id = f"file:{name}"
        aad = wrap_associated_data(tenant, kek_id, context)
        return kek_id, self._kek(name, tenant).seal(data_key, aad)

    def unwrap(self, tenant: str, kek_id: str, wrapped: bytes, context: bytes) -> bytes:
        if not kek_id.startswith("file:"):
            raise DecryptionError()
        name = kek_id[5:]
        if name not in self._file.keys:
            self._refresh()  # a key another process's rotation added
        aad = wrap_associated_data(tenant, kek_id, context)
        try:
            kek = self._kek(name, tenant)
        except KeyProviderError:
            raise DecryptionError() from None
        return kek.open(wrapped, aad)

    def check(self) -> None:
        if not os.access(self._path, os.R_OK):
            raise KeyProviderError("key file is not readable")
        self._refresh()
        if self._conflict is not None:
            raise KeyProviderError(self._conflict)

    def close(self) -> None:
        self._keks.clear()

    # -- KekAdministration: one set of master keys serves every organisation ---------------

    def active_kek_id(self, tenant: str) -> str:
        self._refresh()
        return f"file:{self._file.active}"

    def versions(self, tenant: str) -> list[KekVersion]:
        key_file = read_key_file(self._path)
        found = [
            KekVersion(
                f"file:{name}",
                key_file.created.get(name),
                "active" if name == key_file.active else "retiring",
            )
            for name in sorted(key_file.keys, key=name_order)
        ]
        found += [
            KekVersion(f"file:{name}", dates.get("created"), "retired")
            for name, dates in sorted(
                key_file.retired.items(), key=lambda item: name_order(item[0])
            )
        ]
        return found

    def rotate(self, tenant: str) -> str:
        with locked(self._path):
            key_file = read_key_file(self._path)
            name = key_file.next_name()
            key_file.keys[name] = random_key()
            key_file.created[name] = now_text()
            key_file.active = name
            replace_key_file(self._path, key_file)
        self._refresh()
        return f"file:{name}"

    def retire(self, tenant: str, kek_id: str) -> None:
        name = kek_id.removeprefix("file:")
        with locked(self._path):
            key_file = read_key_file(self._path)
            if name == key_file.active:
                raise KeyProviderError(f"{kek_id} is the active KEK; rotate first")
            if name not in key_file.keys:
                if name in key_file.retired:
                    return
                raise KeyProviderError(f"the key file has no KEK {kek_id}")
            del key_file.keys[name]
            created = key_file.created.pop(name, None)
            key_file.retired[name] = {
                **({"created": created} if created else {}),
                "retired": now_text(),
            }
            replace_key_file(self._path, key_file)
        self._refresh()


def _create_key_file(path: Path) -> None:
    create_secret_file(path, encode_key_file(new_key_file()))


def _stamp(path: Path) -> tuple[int, int, int]:
    status = path.stat()
    return (status.st_ino, status.st_mtime_ns, status.st_size)

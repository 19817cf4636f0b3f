"""Key-encryption-key (KEK) providers: one per deployment, one KEK per organisation.

A provider wraps and unwraps data keys under the KEK of the organisation that owns them.
Two implementations share this interface:

* `FileKeyProvider` (`file:PATH`): a local key file created with mode 0600 on first start.
  Each organisation's KEK is derived from the file's master key with HKDF-SHA256, salted
  and labelled with the organisation id, so no two organisations share a KEK.
* `Pkcs11KeyProvider` (`pkcs11:` RFC 7512 URI, in `crypto.pkcs11`): one non-extractable
  AES-256 key object per organisation inside an HSM; data keys are wrapped by the HSM.

The `context` passed to wrap/unwrap is bound as associated data, so a wrapped data key
copied to another stream or organisation does not unwrap.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto.aead import Aead, random_key
from crypto.errors import DecryptionError, KeyProviderError
from crypto.secret_files import create_secret_file

_FILE_FORMAT = "haven-kek-file"


class KeyProvider(Protocol):
    def wrap(self, tenant: str, data_key: bytes, context: bytes) -> tuple[str, bytes]:
        """Wrap `data_key` under `tenant`'s current KEK; returns (kek_id, wrapped bytes)."""

    def unwrap(self, tenant: str, kek_id: str, wrapped: bytes, context: bytes) -> bytes:
        """Unwrap; raises `DecryptionError` for any failure."""

    def check(self) -> None:
        """Raise `KeyProviderError` when the provider cannot be used (for readiness)."""

    def close(self) -> None: ...


def wrap_associated_data(tenant: str, kek_id: str, context: bytes) -> bytes:
    return b"haven.dk.v1\x00" + tenant.encode() + b"\x00" + kek_id.encode() + b"\x00" + context


class FileKeyProvider:
    """KEKs derived from a master key held in a local file.

    The file is JSON: ``{"format": "haven-kek-file", "active": "k1", "keys": {"k1": "<b64>"}}``;
    keeping named keys leaves room for rotation (a new key becomes active, old ones still
    unwrap). kek ids look like ``file:k1``.
    """

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self._path = path
        if create and not path.exists():
            _create_key_file(path)
        self._active, self._masters = _read_key_file(path)
        self._keks: dict[tuple[str, str], Aead] = {}

    def _kek(self, name: str, tenant: str) -> Aead:
        cached = self._keks.get((name, tenant))
        if cached is None:
            master = self._masters.get(name)
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
        kek_id = f"file:{self._active}"
        aad = wrap_associated_data(tenant, kek_id, context)
        return kek_id, self._kek(self._active, tenant).seal(data_key, aad)

    def unwrap(self, tenant: str, kek_id: str, wrapped: bytes, context: bytes) -> bytes:
        if not kek_id.startswith("file:"):
            raise DecryptionError()
        aad = wrap_associated_data(tenant, kek_id, context)
        try:
            kek = self._kek(kek_id[5:], tenant)
        except KeyProviderError:
            raise DecryptionError() from None
        return kek.open(wrapped, aad)

    def check(self) -> None:
        if not os.access(self._path, os.R_OK):
            raise KeyProviderError("key file is not readable")

    def close(self) -> None:
        self._keks.clear()


def _create_key_file(path: Path) -> None:
    create_secret_file(
        path,
        json.dumps(
            {
                "format": _FILE_FORMAT,
                "active": "k1",
                "keys": {"k1": base64.b64encode(random_key()).decode()},
            }
        ).encode(),
    )


def _read_key_file(path: Path) -> tuple[str, dict[str, bytes]]:
    try:
        if path.stat().st_mode & 0o077:
            raise KeyProviderError(
                f"key file {path} must not be readable by group or others (chmod 600)"
            )
        document = json.loads(path.read_bytes())
        if not isinstance(document, dict) or document.get("format") != _FILE_FORMAT:
            raise KeyProviderError(f"{path} is not a Haven key file")
        masters = {
            name: base64.b64decode(value, validate=True) for name, value in document["keys"].items()
        }
        active = document["active"]
    except KeyProviderError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise KeyProviderError(f"cannot read key file {path}: {type(error).__name__}") from None
    if (
        not isinstance(active, str)
        or active not in masters
        or any(len(key) != 32 for key in masters.values())
    ):
        raise KeyProviderError(f"key file {path} is malformed")
    return active, masters

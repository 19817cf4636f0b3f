"""The CKA_ID of a PKCS#11 KEK object: which version it is, and which version is active."""

from __future__ import annotations

import datetime
import os
import time

from pkcs11 import Attribute
from pkcs11.types import SecretKey

from crypto.errors import KeyProviderError

KEY_ID_BYTES = 16
_VERSIONED = b"HVK1"  # CKA_ID: this, version (4 bytes), created (6 bytes, Unix s), 2 random


def now_text() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def version_of(key_id: bytes) -> tuple[int, str | None]:
    """(version, creation time) a rotated key's CKA_ID carries; (0, None) for a first key."""
    if len(key_id) != KEY_ID_BYTES or not key_id.startswith(_VERSIONED):
        return 0, None
    created = datetime.datetime.fromtimestamp(int.from_bytes(key_id[8:14], "big"), datetime.UTC)
    return int.from_bytes(key_id[4:8], "big"), created.isoformat(timespec="seconds")


def versioned_id(version: int) -> bytes:
    created = int(time.time()).to_bytes(6, "big")
    return _VERSIONED + version.to_bytes(4, "big") + created + os.urandom(2)


def newest(keys: list[SecretKey]) -> SecretKey:
    """The active version: the highest; among equals (two first keys made in a race) the
    lowest CKA_ID, which every process picks alike."""

    def order(key: SecretKey) -> tuple[int, bytes]:
        key_id = bytes(key[Attribute.ID])
        return -version_of(key_id)[0], key_id

    return min(keys, key=order)


def verified_id(key: SecretKey) -> bytes:
    """Return the key's CKA_ID after refusing objects that are not a sealed AES-256 KEK.

    Guards against a key object with the right label that was provisioned by hand as
    extractable, or with the wrong size.
    """
    attrs = key.get_attributes(
        [
            Attribute.ID,
            Attribute.VALUE_LEN,
            Attribute.SENSITIVE,
            Attribute.EXTRACTABLE,
            Attribute.ENCRYPT,
            Attribute.DECRYPT,
        ]
    )
    key_id = bytes(attrs[Attribute.ID])
    if (
        not key_id
        or attrs[Attribute.VALUE_LEN] != 32
        or not attrs[Attribute.SENSITIVE]
        or attrs[Attribute.EXTRACTABLE]
        or not (attrs[Attribute.ENCRYPT] and attrs[Attribute.DECRYPT])
    ):
        raise KeyProviderError(
            f"key object {key.label!r} must be AES-256 with a CKA_ID, sensitive, non-extractable, "
            "and allowed to encrypt and decrypt"
        )
    return key_id

"""AES-256-GCM with a fresh random nonce, associated data required.

Byte layout of a sealed message (all of it is stored; nothing else is needed to open it
except the key and the associated data, which the caller rebuilds from the row):

    offset  length  field
    0       1       format version, 0x01
    1       12      nonce (96 bits, random per message, from os.urandom)
    13      n       ciphertext (same length as the plaintext)
    13+n    16      GCM authentication tag

The associated data is not stored in the message: the caller derives it from the context
the message belongs to (tenant, stream, version, ...), so a message moved to another context
fails authentication. Random 96-bit nonces keep the collision probability below 2^-32 for
up to 2^32 messages per key; a data key seals one case's events, far fewer than that.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto.errors import DecryptionError

FORMAT_VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
_PREFIX = bytes([FORMAT_VERSION])
OVERHEAD = 1 + NONCE_BYTES + TAG_BYTES
NONCE_END = 1 + NONCE_BYTES  # sealed[1:NONCE_END] is the nonce, sealed[NONCE_END:] ciphertext + tag

# What `Aead.decryptor` raises when a message does not authenticate. Code that calls the
# decryptor must turn it into `DecryptionError` (or an error caused by one) and nothing more.
AuthenticationFailed = InvalidTag


class Aead:
    """One AES-256-GCM key. Holds the key inside the cryptography object only."""

    __slots__ = ("_cipher",)

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("AES-256-GCM needs a 32-byte key")
        self._cipher = AESGCM(key)

    def seal(self, plaintext: bytes, associated_data: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return _PREFIX + nonce + self._cipher.encrypt(nonce, plaintext, associated_data)

    def open(self, sealed: bytes, associated_data: bytes) -> bytes:
        if len(sealed) < OVERHEAD or sealed[0] != FORMAT_VERSION:
            raise DecryptionError()
        try:
            return self._cipher.decrypt(
                sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :], associated_data
            )
        except InvalidTag:
            raise DecryptionError() from None

    @property
    def decryptor(self) -> Callable[[bytes, bytes, bytes], bytes]:
        """The cipher's own ``decrypt(nonce, ciphertext_and_tag, associated_data)``.

        For loops that open many messages (the event store's readers), saving the Python
        call of `open` per message. The caller does what `open` does: checks
        ``len(sealed) >= OVERHEAD and sealed[0] == FORMAT_VERSION``, passes
        ``sealed[1:NONCE_END]`` and ``sealed[NONCE_END:]``, and reports `AuthenticationFailed`
        as an opaque `DecryptionError`.
        """
        return self._cipher.decrypt

    def __repr__(self) -> str:  # never show key material
        return "Aead(<redacted>)"


def random_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)

"""Blind-index hashes: keyed hashes of normalised search terms, under an organisation's secret.

A blind index lets an organisation find its cases by name, alias, date of birth or phone
without storing any of them: it stores HMAC-SHA-256 over (label, field, normalised value)
under a 256-bit secret of the organisation's own (`events.organisation_secrets`, wrapped by
the organisation's KEK like every other secret). Without the secret a stored hash cannot be
tested against guesses, and the same value hashed for two organisations gives unrelated hashes,
so nothing links one organisation's index to another's. The field is bound into the hash: a
name and an alias spelled alike are different entries.
"""

from __future__ import annotations

import hashlib
import hmac

import msgspec

SECRET_BYTES = 32
_LABEL = "haven.blind-index.v1"
_encode = msgspec.msgpack.Encoder().encode


class BlindIndexKey:
    """One organisation's blind-index secret, able only to hash terms."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        if len(secret) != SECRET_BYTES:
            raise ValueError(f"a blind-index secret is {SECRET_BYTES} bytes")
        self._secret = secret

    def term_hash(self, field: str, normalised: str) -> bytes:
        """The 32-byte index entry of one normalised term."""
        return hmac.new(self._secret, _encode((_LABEL, field, normalised)), hashlib.sha256).digest()

    def __repr__(self) -> str:
        return "BlindIndexKey(<secret>)"

"""Ed25519 signing keys kept in files outside the database (PKCS#8 PEM, mode 0600).

Used for the local token issuer's key and for signing log checkpoints (`events.checkpoint`):
a key someone who can rewrite the database cannot read. `open_signing_key` creates the file
on first use (of two processes starting together, one creates it and both use it), and
refuses one readable by group or others.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from crypto.secret_files import create_secret_file


class SigningKeyError(Exception):
    """A signing key file that is missing, unreadable, too widely readable or not Ed25519."""


def open_signing_key(path: Path, what: str, *, create: bool = True) -> ed25519.Ed25519PrivateKey:
    """The Ed25519 key in `path` (`what` names it in errors: "token signing key")."""
    if create and not path.exists():
        create_secret_file(
            path,
            ed25519.Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
    try:
        if path.stat().st_mode & 0o077:
            raise SigningKeyError(
                f"{what} {path} must not be readable by group or others (chmod 600)"
            )
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except SigningKeyError:
        raise
    except (OSError, ValueError, TypeError) as error:
        raise SigningKeyError(f"cannot read {what} {path}: {type(error).__name__}") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise SigningKeyError(f"{what} {path} is not an Ed25519 key")
    return key


def public_bytes(key: ed25519.Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def signature_holds(public: bytes, signature: bytes, message: bytes) -> bool:
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True

"""Public keys from JSON Web Keys, and which algorithm each key may verify.

A key is parsed once, when its key set is loaded, into a `VerificationKey` holding a
`cryptography` public-key object. Verification is then decided by the *key*, not by the
token: `VerificationKey.fits(alg)` accepts an algorithm only if it belongs to the key's type
(RS*/PS* for RSA, ES256 for P-256, ES384 for P-384, EdDSA for Ed25519) and equals the JWK's
own ``alg`` when it names one. That closes the classic confusions: an RSA key is never fed
to HMAC as a secret (HS* is not in any allow-list and no ``oct`` key is ever loaded), and an
EC key of one curve never verifies another curve's algorithm.

Keys that cannot serve are skipped rather than trusted: symmetric keys, encryption keys
(``use`` other than ``sig``), keys without a ``kid``, private keys published by mistake,
RSA keys under 2048 bits, curves outside the allow-list.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from services.observability.logging import get_logger

log = get_logger("identity")

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

# algorithm -> (kty, curve or None): the only key shape each algorithm may be verified with.
KEY_SHAPE: dict[str, tuple[str, str | None]] = {
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "EdDSA": ("OKP", "Ed25519"),
}
# The algorithm PyJWT is told to build each key shape with (the key object is the same for
# every RSA algorithm, so RS256 stands for all of them).
_BUILD_AS = {
    ("RSA", None): "RS256",
    ("EC", "P-256"): "ES256",
    ("EC", "P-384"): "ES384",
    ("OKP", "Ed25519"): "EdDSA",
}
MIN_RSA_BITS = 2048
# RFC 7638 §3.2: the required members, per key type, that a thumbprint hashes.
_THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "oct": ("k", "kty"),
}


class JwksError(Exception):
    """A key set document is not a JSON object with a ``keys`` array."""


@dataclass(frozen=True)
class VerificationKey:
    kid: str
    kty: str
    curve: str | None
    algorithm: str | None  # the JWK's own "alg", when it names one
    public_key: PublicKey

    def fits(self, alg: str) -> bool:
        if self.algorithm is not None and self.algorithm != alg:
            return False
        return KEY_SHAPE.get(alg) == (self.kty, self.curve)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): a key id derived from the key itself."""
    members = _THUMBPRINT_MEMBERS[jwk["kty"]]
    canonical = json.dumps(
        {name: jwk[name] for name in members},
        separators=(",", ":"),
        sort_keys=True,
        ensure_ascii=False,
    )
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def parse_jwk(jwk: object) -> VerificationKey | None:
    """The verification key a JWK describes, or None when it must not be used to verify."""
    if not isinstance(jwk, dict):
        return None
    kid, kty, alg = jwk.get("kid"), jwk.get("kty"), jwk.get("alg")
    curve = jwk.get("crv") if kty in ("EC", "OKP") else None
    shape = (kty, curve)
    if not isinstance(kid, str) or not kid or not isinstance(kty, str) or shape not in _BUILD_AS:
        return None
    if jwk.get("use", "sig") != "sig" or "d" in jwk:
        return None
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return None
    if alg is not None and KEY_SHAPE.get(alg) != shape:
        return None
    try:
        key = jwt.PyJWK(jwk, algorithm=_BUILD_AS[shape]).key
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        log.warning("skipping an unreadable key in the key set", error_code="jwk-unreadable")
        return None
    if not isinstance(key, PublicKey):
        return None
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        log.warning("skipping an RSA key below the minimum size", error_code="jwk-rsa-too-short")
        return None
    return VerificationKey(kid=kid, kty=kty, curve=curve, algorithm=alg, public_key=key)


def parse_jwks(document: bytes | str | Mapping[str, Any]) -> dict[str, VerificationKey]:
    """Usable keys of a JWK set by kid (the first key wins when a kid repeats)."""
    if isinstance(document, bytes | str):
        try:
            document = json.loads(document)
        except (ValueError, RecursionError):
            raise JwksError("key set is not JSON") from None
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise JwksError("key set has no 'keys' array")
    keys: dict[str, VerificationKey] = {}
    for entry in document["keys"]:
        parsed = parse_jwk(entry)
        if parsed is not None:
            keys.setdefault(parsed.kid, parsed)
    return keys

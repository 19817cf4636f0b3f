"""The embedded token issuer, for deployments without an external identity provider.

Its Ed25519 signing key lives in ``$HAVEN_DATA_DIR/token-signing-key.pem`` (PKCS#8 PEM),
created mode 0600 on first use, the way `crypto.providers` creates the KEK file: written
in full under a temporary name, then linked into place, so of two processes starting at
once (``haven serve`` and ``haven token``) exactly one creates it and neither reads half a
key. A key file readable by group or others is refused, not silently used.

Tokens are JWS compact serialisations, EdDSA only, with ``kid`` = the RFC 7638 thumbprint of
the public key (so a new key file means a new kid, and tokens of the old key are refused as
``unknown-kid`` rather than ``bad-signature``). Issuer ``haven-local``, audience ``haven``.
Lifetimes are capped at 24 hours: there is no revocation list yet, so a leaked token must
die on its own soon.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ed25519

from crypto.signing import open_signing_key, public_bytes
from domain.identifiers import is_identifier
from services.identity.claims import ROLES
from services.identity.jwk import b64url, thumbprint

LOCAL_ISSUER = "haven-local"
LOCAL_AUDIENCE = "haven"
KEY_FILE_NAME = "token-signing-key.pem"
DEFAULT_TTL = dt.timedelta(hours=8)
MAX_TTL = dt.timedelta(hours=24)


class LocalIssuer:
    def __init__(
        self, private_key: ed25519.Ed25519PrivateKey, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._private_key = private_key
        self._clock = clock
        self._public_jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url(public_bytes(private_key))}
        self.kid = thumbprint(self._public_jwk)

    @classmethod
    def open(
        cls, data_dir: Path, *, create: bool = True, clock: Callable[[], float] = time.time
    ) -> LocalIssuer:
        """The issuer whose key is in `data_dir`, creating the key on first use."""
        return cls(
            open_signing_key(data_dir / KEY_FILE_NAME, "token signing key", create=create),
            clock=clock,
        )

    def jwks(self) -> dict[str, Any]:
        """The public key as a JWK set (never the private key)."""
        return {"keys": [{**self._public_jwk, "kid": self.kid, "alg": "EdDSA", "use": "sig"}]}

    def mint(
        self,
        user: str,
        org: str,
        roles: Iterable[str],
        team: str | None = None,
        ttl: dt.timedelta = DEFAULT_TTL,
    ) -> str:
        """A signed token; ValueError for an unknown role, a bad id or a lifetime over 24 h.
        Without `team` the token has no ``team`` claim: its holder is on the organisation's
        default team (`claims.DEFAULT_TEAM`), as with an external provider's team-less token."""
        roles = sorted(set(roles))
        if not roles or not set(roles) <= ROLES:
            raise ValueError(f"roles must be one or more of: {', '.join(sorted(ROLES))}")
        named = {"user": user, "organisation": org} | ({"team": team} if team is not None else {})
        for name, value in named.items():
            if not is_identifier(value):
                raise ValueError(f"{name} must be printable text of 1 to 256 characters")
        if not dt.timedelta(0) < ttl <= MAX_TTL:
            raise ValueError("the lifetime must be more than zero and at most 24 hours")
        now = int(self._clock())
        claims: dict[str, Any] = {
            "iss": LOCAL_ISSUER,
            "aud": LOCAL_AUDIENCE,
            "sub": user,
            "org": org,
            "roles": roles,
            "iat": now,
            "nbf": now,
            "exp": now + int(ttl.total_seconds()),
            "jti": str(uuid.uuid4()),
        }
        if team is not None:
            claims["team"] = team
        return jwt.encode(
            claims, self._private_key, algorithm="EdDSA", headers={"kid": self.kid, "typ": "JWT"}
        )

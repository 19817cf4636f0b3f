"""Building tokens by hand, including the ones no well-behaved library will make."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest

from services.identity import InvalidToken, TokenVerifier

NOW = 1_800_000_000  # a fixed instant (2027-01-15): every test clock is relative to it


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def claims(
    issuer: str = "haven-local", audience: Any = "haven", **overrides: Any
) -> dict[str, Any]:
    """Valid claims at NOW for one hour; an override of None removes that claim."""
    base = {
        "iss": issuer,
        "aud": audience,
        "sub": "worker-1",
        "org": "org-a",
        "roles": ["caseworker"],
        "team": "team-1",
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + 3600,
        "jti": "token-1",
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def signed(key: Any, payload: dict[str, Any], *, alg: str, kid: str | None, **header: Any) -> str:
    """A JWS signed with `key`; the payload is JSON-encoded as it is (PyJWT's JWT layer would
    refuse some of the wrong shapes the tests need, such as a non-string issuer)."""
    headers = {"typ": "JWT", **header, **({"kid": kid} if kid is not None else {})}
    return jwt.PyJWS().encode(json.dumps(payload).encode(), key, algorithm=alg, headers=headers)


def compact(header: dict[str, Any], payload: dict[str, Any], signature: bytes) -> str:
    segments = [
        b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, payload)
    ]
    return ".".join([*segments, b64url(signature)])


def unsigned(payload: dict[str, Any], *, kid: str, alg: str = "none") -> str:
    return compact({"alg": alg, "typ": "JWT", "kid": kid}, payload, b"")


def hs256(secret: bytes, payload: dict[str, Any], *, kid: str) -> str:
    """HS256 by hand: PyJWT refuses an asymmetric key as an HMAC secret, an attacker does not."""
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = b64url(json.dumps(payload).encode())
    mac = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64url(mac)}"


def with_payload(token: str, **changes: Any) -> str:
    """The same header and signature over a changed payload."""
    header, body, signature = token.split(".")
    payload = json.loads(unb64url(body))
    payload.update(changes)
    return ".".join([header, b64url(json.dumps(payload).encode()), signature])


async def refused(verifier: TokenVerifier, token: str) -> str:
    """The reason `verifier` refuses `token`; the error never carries any part of the token."""
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    message = str(caught.value)
    assert all(part not in message for part in token.split(".") if len(part) > 3)
    assert caught.value.__cause__ is None
    return caught.value.reason

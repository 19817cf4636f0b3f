"""The verifier's cache of verified tokens: it saves the signature check, never a check that
matters — times are checked on every use, and a tampered token is a different key."""

from __future__ import annotations

import datetime as dt

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from services.identity import LocalIssuer, TokenVerifier
from tests.services.identity.forge import NOW, refused


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def issuer() -> LocalIssuer:
    return LocalIssuer(ed25519.Ed25519PrivateKey.generate(), clock=lambda: NOW)


async def test_a_repeated_token_is_verified_once(issuer, monkeypatch) -> None:
    verifier = TokenVerifier.for_local_issuer(issuer, clock=lambda: NOW + 60)
    token = issuer.mint("worker-1", "org-a", ["caseworker"], "team-1")
    decoded = []
    real_decode = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: decoded.append(1) or real_decode(*a, **k))
    first = await verifier.verify(token)
    assert await verifier.verify(token) == first
    assert len(decoded) == 1
    await verifier.verify(
        issuer.mint("worker-2", "org-a", ["caseworker"], "team-1")
    )  # control: another token
    assert len(decoded) == 2


async def test_a_cached_token_still_expires_on_time(issuer) -> None:
    clock = Clock(NOW + 60)
    verifier = TokenVerifier.for_local_issuer(issuer, clock=clock)
    token = issuer.mint("worker-1", "org-a", ["caseworker"], "team-1", dt.timedelta(hours=1))
    await verifier.verify(token)
    clock.now = NOW + 3600 + 31  # past expiry and the 30 s leeway
    assert await refused(verifier, token) == "expired"


async def test_a_tampered_copy_of_a_cached_token_is_refused(issuer) -> None:
    verifier = TokenVerifier.for_local_issuer(issuer, clock=lambda: NOW + 60)
    token = issuer.mint("worker-1", "org-a", ["caseworker"], "team-1")
    await verifier.verify(token)
    header, payload, signature = token.split(".")
    forged = ".".join(
        [header, payload, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")]
    )
    assert await refused(verifier, forged) in {"bad-signature", "malformed"}

"""The local issuer's tokens: the round trip, and each JWT attack beside its control."""

from __future__ import annotations

import datetime as dt

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from services.identity import DEFAULT_TEAM, LocalIssuer, TokenVerifier
from services.identity.verifier import REQUIRED_CLAIMS
from tests.services.identity.forge import (
    NOW,
    claims,
    hs256,
    refused,
    signed,
    unsigned,
    with_payload,
)


@pytest.fixture
def key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture
def issuer(key) -> LocalIssuer:
    return LocalIssuer(key, clock=lambda: NOW)


def verifier_at(issuer: LocalIssuer, instant: float) -> TokenVerifier:
    return TokenVerifier.for_local_issuer(issuer, clock=lambda: instant)


@pytest.fixture
def verifier(issuer) -> TokenVerifier:
    return verifier_at(issuer, NOW + 60)


async def test_a_minted_token_verifies_into_its_principal(issuer, verifier):
    token = issuer.mint(
        "worker-1", "org-a", ["caseworker", "supervisor"], "team-1", dt.timedelta(hours=8)
    )
    principal = await verifier.verify(token)
    assert principal.user_id == "worker-1"
    assert principal.organisation_id == "org-a"
    assert principal.roles == frozenset({"caseworker", "supervisor"})
    assert principal.team_id == "team-1"
    assert principal.token_id
    assert principal.expires_at == dt.datetime.fromtimestamp(NOW + 8 * 3600, dt.UTC)
    assert principal.has_role("supervisor") and not principal.has_role("admin")


async def test_a_token_without_team_puts_its_holder_on_the_default_team(issuer, verifier):
    token = issuer.mint("u", "org-a", ["caseworker"])
    assert "team" not in jwt.decode(
        token, options={"verify_signature": False}
    )  # the claim stays optional
    assert (await verifier.verify(token)).team_id == DEFAULT_TEAM == "default"
    named = await verifier.verify(issuer.mint("u", "org-a", ["caseworker"], DEFAULT_TEAM))
    assert named.team_id == "default"  # the same team as a token naming it
    assert (
        await verifier.verify(issuer.mint("u", "org-a", ["caseworker"], "team-1"))
    ).team_id == "team-1"  # control


async def test_a_forged_token_without_team_is_on_the_default_team_too(issuer, key, verifier):
    """The rule is `principal_from_claims`', whoever made the token."""
    assert (
        await verifier.verify(signed(key, claims(team=None), alg="EdDSA", kid=issuer.kid))
    ).team_id == "default"


def test_minting_refuses_unknown_roles_bad_ids_and_long_lifetimes(issuer):
    with pytest.raises(ValueError, match="roles"):
        issuer.mint("u", "org-a", ["superuser"])
    with pytest.raises(ValueError, match="roles"):
        issuer.mint("u", "org-a", [])
    with pytest.raises(ValueError, match="organisation"):
        issuer.mint("u", "org\n-a", ["caseworker"])
    with pytest.raises(ValueError, match="24 hours"):
        issuer.mint("u", "org-a", ["caseworker"], ttl=dt.timedelta(hours=25))
    issuer.mint("u", "org-a", ["caseworker"], ttl=dt.timedelta(hours=24))  # control: the cap itself


async def test_alg_none_is_refused(issuer, key, verifier):
    assert await verifier.verify(signed(key, claims(), alg="EdDSA", kid=issuer.kid))  # control
    for spelling in ("none", "None", "NONE", "nOnE"):
        assert (
            await refused(verifier, unsigned(claims(), kid=issuer.kid, alg=spelling))
            == "algorithm-not-allowed"
        )


async def test_hs256_signed_with_the_public_key_is_refused(issuer, key, verifier):
    shared = b"a shared secret of thirty-two bytes or more"
    control = hs256(shared, claims(), kid=issuer.kid)  # the forger makes HS256 tokens PyJWT accepts
    assert (
        jwt.decode(
            control,
            shared,
            algorithms=["HS256"],
            audience="haven",
            options={"verify_iat": False, "verify_nbf": False},
        )["org"]
        == "org-a"
    )
    public = key.public_key()
    secrets = [
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        issuer.jwks()["keys"][0]["x"].encode(),
    ]
    for secret in secrets:
        assert (
            await refused(verifier, hs256(secret, claims(), kid=issuer.kid))
            == "algorithm-not-allowed"
        )


async def test_expired_token_is_refused(issuer):
    token = issuer.mint("u", "org-a", ["caseworker"], ttl=dt.timedelta(hours=1))
    await verifier_at(issuer, NOW + 3599).verify(token)  # control
    await verifier_at(issuer, NOW + 3600 + 29).verify(token)  # control: within the leeway
    assert await refused(verifier_at(issuer, NOW + 3600 + 31), token) == "expired"
    assert await refused(verifier_at(issuer, NOW + 86400), token) == "expired"


async def test_not_yet_valid_token_is_refused(issuer, key):
    later = signed(key, claims(nbf=NOW + 3600), alg="EdDSA", kid=issuer.kid)
    await verifier_at(issuer, NOW + 3600).verify(later)  # control
    assert await refused(verifier_at(issuer, NOW), later) == "not-yet-valid"
    from_the_future = LocalIssuer(key, clock=lambda: NOW + 600).mint("u", "org-a", ["caseworker"])
    assert await refused(verifier_at(issuer, NOW), from_the_future) == "not-yet-valid"
    skewed = LocalIssuer(key, clock=lambda: NOW + 20).mint("u", "org-a", ["caseworker"])
    await verifier_at(issuer, NOW).verify(skewed)  # control: clock skew within the leeway


async def test_wrong_issuer_is_refused(issuer, key, verifier):
    await verifier.verify(
        signed(key, claims(issuer="haven-local"), alg="EdDSA", kid=issuer.kid)
    )  # control
    for wrong in ("https://idp.example", "haven", "haven-local ", "HAVEN-LOCAL"):
        token = signed(key, claims(issuer=wrong), alg="EdDSA", kid=issuer.kid)
        assert await refused(verifier, token) == "wrong-issuer"
    assert (
        await refused(
            verifier, signed(key, claims(issuer=["haven-local"]), alg="EdDSA", kid=issuer.kid)
        )
        == "wrong-issuer"
    )


async def test_wrong_audience_is_refused(issuer, key, verifier):
    await verifier.verify(
        signed(key, claims(audience=["reports", "haven"]), alg="EdDSA", kid=issuer.kid)
    )  # control
    for wrong in ("reports", ["reports"], "haven2"):
        token = signed(key, claims(audience=wrong), alg="EdDSA", kid=issuer.kid)
        assert await refused(verifier, token) == "wrong-audience"


async def test_unknown_kid_is_refused(issuer, key, verifier):
    await verifier.verify(signed(key, claims(), alg="EdDSA", kid=issuer.kid))  # control
    assert (
        await refused(verifier, signed(key, claims(), alg="EdDSA", kid="another-key"))
        == "unknown-kid"
    )
    assert await refused(verifier, signed(key, claims(), alg="EdDSA", kid=None)) == "unknown-kid"


async def test_tampered_claims_are_refused(issuer, verifier):
    token = issuer.mint("worker-1", "org-a", ["caseworker"])
    assert (await verifier.verify(token)).organisation_id == "org-a"  # control
    assert await refused(verifier, with_payload(token, org="org-b")) == "bad-signature"
    assert await refused(verifier, with_payload(token, roles=["admin"])) == "bad-signature"
    assert await refused(verifier, with_payload(token, exp=NOW + 10 * 86400)) == "bad-signature"


async def test_a_token_of_another_local_issuer_is_refused_even_under_our_kid(issuer, verifier):
    other_key = ed25519.Ed25519PrivateKey.generate()
    other = LocalIssuer(other_key, clock=lambda: NOW)
    await verifier_at(other, NOW + 60).verify(
        other.mint("u", "org-a", ["admin"])
    )  # control: valid for its own
    assert await refused(verifier, other.mint("u", "org-a", ["admin"])) == "unknown-kid"
    forged = signed(other_key, claims(), alg="EdDSA", kid=issuer.kid)
    assert await refused(verifier, forged) == "bad-signature"


async def test_the_local_verifier_accepts_eddsa_only(issuer, verifier):
    ec_key = ec.generate_private_key(ec.SECP256R1())
    token = signed(ec_key, claims(), alg="ES256", kid=issuer.kid)
    assert await refused(verifier, token) == "algorithm-not-allowed"


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
async def test_a_token_missing_a_required_claim_is_refused(issuer, key, verifier, claim):
    await verifier.verify(signed(key, claims(), alg="EdDSA", kid=issuer.kid))  # control
    token = signed(key, claims(**{claim: None}), alg="EdDSA", kid=issuer.kid)
    assert await refused(verifier, token) == "missing-claims"


async def test_unknown_roles_are_dropped_and_a_token_with_no_known_role_is_refused(
    issuer, key, verifier
):
    mixed = signed(
        key, claims(roles=["caseworker", "superuser", "ADMIN"]), alg="EdDSA", kid=issuer.kid
    )
    assert (await verifier.verify(mixed)).roles == frozenset({"caseworker"})
    only_unknown = signed(key, claims(roles=["superuser"]), alg="EdDSA", kid=issuer.kid)
    assert await refused(verifier, only_unknown) == "missing-claims"
    assert (
        await refused(verifier, signed(key, claims(roles=[]), alg="EdDSA", kid=issuer.kid))
        == "missing-claims"
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"roles": "caseworker"},
        {"roles": [1]},
        {"org": 42},
        {"org": ""},
        {"sub": ["worker-1"]},
        {"sub": "\x00worker"},
        {"team": 7},
        {"team": ""},
        {"jti": 5},
        {"exp": "tomorrow"},
        {"exp": True},
        {"iat": "now"},
        {"nbf": "now"},
        {"exp": 1e300},
    ],
    ids=repr,
)
async def test_claims_of_the_wrong_shape_are_refused(issuer, key, verifier, overrides):
    token = signed(key, claims(**overrides), alg="EdDSA", kid=issuer.kid)
    assert await refused(verifier, token) == "invalid-claims"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b.c",
        "...",
        "eyJhbGciOiJFZERTQSJ9.e30",
        "x" * 9000,
        "é.é.é",
    ],
    ids=["empty", "one-part", "junk", "dots", "two-parts", "oversized", "non-ascii"],
)
async def test_malformed_tokens_are_refused(verifier, token):
    assert await refused(verifier, token) == "malformed"


async def test_critical_header_extensions_are_refused(issuer, key, verifier):
    token = signed(key, claims(), alg="EdDSA", kid=issuer.kid, crit=["exp"], exp=1)
    assert await refused(verifier, token) == "malformed"

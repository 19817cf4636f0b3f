"""An external OpenID Connect issuer: keys from a real JWKS endpoint on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from services.identity import TokenVerifier, verifier_from_settings
from services.identity.jwks import JwksCache
from services.settings import Settings
from tests.services.identity.forge import NOW, claims, hs256, refused, signed
from tests.services.identity.jwks_server import JwksServer

ISSUER = "https://idp.example/realms/haven"
AUDIENCE = "haven-api"
INTERVAL = 30.0
MAX_AGE = 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def keys():
    return {
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "rsa-2": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "p256": ec.generate_private_key(ec.SECP256R1()),
        "p384": ec.generate_private_key(ec.SECP384R1()),
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
    }


def jwk(keys, name, **extra):
    public = keys[name].public_key()
    to_jwk = {
        "rsa": RSAAlgorithm,
        "rsa-2": RSAAlgorithm,
        "p256": ECAlgorithm,
        "p384": ECAlgorithm,
        "ed25519": OKPAlgorithm,
    }[name].to_jwk
    return {**to_jwk(public, as_dict=True), "kid": name, "use": "sig", **extra}


def oidc_claims(**overrides):
    return claims(issuer=ISSUER, audience=AUDIENCE, **overrides)


@pytest.fixture
def server(keys):
    with JwksServer() as running:
        running.document = {
            "keys": [jwk(keys, name) for name in ("rsa", "p256", "p384", "ed25519")]
        }
        yield running


@pytest.fixture
def clock():
    return Clock()


def oidc_verifier(url, clock, **cache_options):
    cache = JwksCache(
        url, min_refresh_interval=INTERVAL, max_age=MAX_AGE, monotonic=clock, **cache_options
    )
    return TokenVerifier.for_oidc(
        issuer=ISSUER, audience=AUDIENCE, jwks=cache, clock=lambda: NOW + 60
    )


@pytest.fixture
def verifier(server, clock):
    return oidc_verifier(server.url, clock)


@pytest.mark.parametrize(
    ("name", "alg"),
    [
        ("rsa", "RS256"),
        ("rsa", "RS384"),
        ("rsa", "RS512"),
        ("rsa", "PS256"),
        ("p256", "ES256"),
        ("p384", "ES384"),
        ("ed25519", "EdDSA"),
    ],
)
async def test_tokens_of_the_provider_verify(keys, server, verifier, name, alg):
    principal = await verifier.verify(signed(keys[name], oidc_claims(), alg=alg, kid=name))
    assert (principal.user_id, principal.organisation_id, principal.roles) == (
        "worker-1",
        "org-a",
        {"caseworker"},
    )
    assert server.hits == 1


async def test_keys_are_cached(keys, server, verifier):
    for _ in range(5):
        await verifier.verify(signed(keys["rsa"], oidc_claims(), alg="RS256", kid="rsa"))
    assert server.hits == 1


async def test_an_rs256_jwks_key_cannot_verify_an_hs256_token_signed_with_its_public_numbers(
    keys, server, verifier
):
    await verifier.verify(signed(keys["rsa"], oidc_claims(), alg="RS256", kid="rsa"))  # control
    public = keys["rsa"].public_key()
    numbers = public.public_numbers()
    secrets = [
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
        public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big"),
        json.dumps(jwk(keys, "rsa")).encode(),
    ]
    for secret in secrets:
        assert (
            await refused(verifier, hs256(secret, oidc_claims(), kid="rsa"))
            == "algorithm-not-allowed"
        )
    assert server.hits == 1  # refused before any key lookup


async def test_an_algorithm_of_another_key_type_is_refused(keys, server, verifier):
    ec_under_rsa_kid = signed(keys["p256"], oidc_claims(), alg="ES256", kid="rsa")
    assert await refused(verifier, ec_under_rsa_kid) == "algorithm-not-allowed"
    rsa_under_ec_kid = signed(keys["rsa"], oidc_claims(), alg="RS256", kid="p256")
    assert await refused(verifier, rsa_under_ec_kid) == "algorithm-not-allowed"
    p384_as_es256 = signed(keys["p256"], oidc_claims(), alg="ES256", kid="p384")
    assert await refused(verifier, p384_as_es256) == "algorithm-not-allowed"
    for disallowed in ("HS256", "ES512", "PS512", "none"):
        token = signed(keys["rsa"], oidc_claims(), alg="RS256", kid="rsa").split(".")
        header = jwt.utils.base64url_encode(
            json.dumps({"alg": disallowed, "kid": "rsa"}).encode()
        ).decode()
        assert await refused(verifier, ".".join([header, *token[1:]])) == "algorithm-not-allowed"


async def test_the_jwk_alg_restricts_the_algorithm(keys, server, verifier, clock):
    server.document = {"keys": [jwk(keys, "rsa", alg="RS256")]}
    await verifier.verify(signed(keys["rsa"], oidc_claims(), alg="RS256", kid="rsa"))  # control
    assert (
        await refused(verifier, signed(keys["rsa"], oidc_claims(), alg="PS256", kid="rsa"))
        == "algorithm-not-allowed"
    )


async def test_wrong_issuer_audience_and_expiry_are_refused_for_the_provider_too(
    keys, server, verifier
):
    def token(**overrides):
        return signed(keys["p256"], oidc_claims(**overrides), alg="ES256", kid="p256")

    await verifier.verify(token())  # control
    assert await refused(verifier, token(iss="haven-local")) == "wrong-issuer"
    assert await refused(verifier, token(aud="haven")) == "wrong-audience"
    assert await refused(verifier, token(exp=NOW)) == "expired"
    assert await refused(verifier, token(nbf=NOW + 3600)) == "not-yet-valid"
    assert await refused(verifier, token(org=None)) == "missing-claims"


async def test_attack_a_provider_token_minted_for_a_century_is_refused(keys, server, verifier):
    """A token leaked from (or mis-minted by) the provider with `exp` 100 years out would work
    for ever; any lifetime beyond 24 hours is refused, however validly signed, and so is an
    `iat` in the future. Controls: 24 hours is accepted; the same century token would pass the
    other checks (its signature, issuer and expiry are fine)."""

    def token(**overrides):
        return signed(keys["p256"], oidc_claims(**overrides), alg="ES256", kid="p256")

    assert await refused(verifier, token(exp=NOW + 100 * 365 * 24 * 3600)) == "lifetime-too-long"
    assert await refused(verifier, token(iat=NOW + 3600, nbf=None)) == "not-yet-valid"
    await verifier.verify(token(exp=NOW + 24 * 3600))  # control: the longest accepted lifetime
    lenient = TokenVerifier.for_oidc(
        issuer=verifier.issuer,
        audience=verifier.audience,
        jwks=verifier._keys,
        clock=verifier._clock,
        max_lifetime=200 * 365 * 24 * 3600,
    )
    await lenient.verify(
        token(exp=NOW + 100 * 365 * 24 * 3600)
    )  # control: only the lifetime refused it


async def test_a_token_of_a_rotated_key_triggers_one_refresh_and_verifies(
    keys, server, verifier, clock
):
    await verifier.verify(signed(keys["rsa"], oidc_claims(), alg="RS256", kid="rsa"))
    assert server.hits == 1
    server.document = {"keys": [jwk(keys, "rsa"), jwk(keys, "rsa-2")]}
    clock.advance(INTERVAL)
    rotated = signed(keys["rsa-2"], oidc_claims(), alg="RS256", kid="rsa-2")
    assert (await verifier.verify(rotated)).user_id == "worker-1"
    assert server.hits == 2
    await verifier.verify(rotated)
    assert server.hits == 2


async def test_unknown_kid_spray_is_rate_limited(keys, server, verifier, clock):
    await verifier.verify(signed(keys["rsa"], oidc_claims(), alg="RS256", kid="rsa"))
    assert server.hits == 1

    def sprayed():
        return signed(keys["rsa"], oidc_claims(), alg="RS256", kid=uuid.uuid4().hex)

    for _ in range(50):  # within the interval of the first fetch: no fetch at all
        assert await refused(verifier, sprayed()) == "unknown-kid"
    assert server.hits == 1
    clock.advance(INTERVAL)
    reasons = await asyncio.gather(*(refused(verifier, sprayed()) for _ in range(50)))
    assert set(reasons) == {"unknown-kid"}
    assert server.hits == 2  # fifty concurrent misses, one fetch
    clock.advance(INTERVAL / 2)
    for _ in range(20):
        await refused(verifier, sprayed())
    assert server.hits == 2
    await verifier.verify(
        signed(keys["rsa"], oidc_claims(), alg="RS256", kid="rsa")
    )  # known keys unaffected
    assert server.hits == 2


async def test_a_withdrawn_key_stops_verifying_once_the_keys_are_stale(
    keys, server, verifier, clock
):
    token = signed(keys["p256"], oidc_claims(), alg="ES256", kid="p256")
    await verifier.verify(token)
    server.document = {"keys": [jwk(keys, "rsa")]}
    clock.advance(MAX_AGE - 1)
    await verifier.verify(token)  # control: still fresh
    clock.advance(1)
    assert await refused(verifier, token) == "unknown-kid"
    assert server.hits == 2


async def test_an_unreachable_provider_gives_keys_unavailable_then_recovers(
    keys, server, verifier, clock
):
    server.status = 500
    token = signed(keys["rsa"], oidc_claims(), alg="RS256", kid="rsa")
    assert await refused(verifier, token) == "keys-unavailable"
    assert await refused(verifier, token) == "keys-unavailable"
    assert server.hits == 1  # failed fetches are rate-limited too
    server.status = 200
    clock.advance(INTERVAL)
    await verifier.verify(token)
    assert server.hits == 2


async def test_a_failed_refresh_keeps_the_keys_already_held(keys, server, verifier, clock):
    token = signed(keys["rsa"], oidc_claims(), alg="RS256", kid="rsa")
    await verifier.verify(token)
    server.status = 500
    clock.advance(MAX_AGE)
    await verifier.verify(token)
    assert server.hits == 2


async def test_redirects_are_not_followed(keys, server, clock):
    verifier = oidc_verifier(server.url.replace("/jwks", "/redirect"), clock)
    assert (
        await refused(verifier, signed(keys["rsa"], oidc_claims(), alg="RS256", kid="rsa"))
        == "keys-unavailable"
    )
    assert server.hits == 0


async def test_an_injected_fetch_is_used(keys, clock):
    fetched = []

    async def fetch(url: str) -> bytes:
        fetched.append(url)
        return json.dumps({"keys": [jwk(keys, "ed25519")]}).encode()

    verifier = oidc_verifier("https://idp.example/jwks", clock, fetch=fetch)
    await verifier.verify(signed(keys["ed25519"], oidc_claims(), alg="EdDSA", kid="ed25519"))
    assert fetched == ["https://idp.example/jwks"]


@pytest.mark.parametrize(
    "url",
    [
        "http://idp.example/jwks",
        "ftp://127.0.0.1/jwks",
        "file:///etc/passwd",
        "https:///jwks",
        "jwks.json",
    ],
)
def test_the_jwks_url_must_be_https_or_loopback(url):
    with pytest.raises(ValueError, match="https"):
        JwksCache(url)
    JwksCache("http://localhost:8080/jwks")  # control
    JwksCache("https://idp.example/jwks")


async def test_settings_with_oidc_give_the_provider_verifier(keys, server, tmp_path):
    settings = Settings.from_environ(
        {
            "HAVEN_DATA_DIR": str(tmp_path),
            "HAVEN_OIDC_ISSUER": ISSUER,
            "HAVEN_OIDC_AUDIENCE": AUDIENCE,
            "HAVEN_OIDC_JWKS_URL": server.url,
        }
    )
    verifier = verifier_from_settings(settings, clock=lambda: NOW)
    assert verifier.issuer == ISSUER and "HS256" not in verifier.algorithms
    await verifier.verify(signed(keys["p256"], oidc_claims(), alg="ES256", kid="p256"))
    assert list(tmp_path.iterdir()) == []  # no local signing key is created

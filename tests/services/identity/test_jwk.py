"""JWK parsing and thumbprints: published test vectors, and the keys we refuse to load."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from services.identity import LocalIssuer
from services.identity.jwk import JwksError, parse_jwk, parse_jwks, thumbprint

RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknj"
    "hMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQv"
    "RL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnq"
    "DKgw"
)


def test_thumbprints_match_the_rfc_vectors():
    rsa_jwk = {"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}
    assert thumbprint(rsa_jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"  # RFC 7638 §3.1
    okp_jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert thumbprint(okp_jwk) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"  # RFC 8037 A.3


def test_the_local_kid_is_the_thumbprint_of_the_public_key():
    issuer = LocalIssuer(ed25519.Ed25519PrivateKey.generate())
    assert issuer.kid == thumbprint(issuer.jwks()["keys"][0])


def public_jwk(private, **extra):
    public = private.public_key()
    algorithm = {rsa.RSAPublicKey: RSAAlgorithm, ec.EllipticCurvePublicKey: ECAlgorithm}
    to_jwk = next(
        (a.to_jwk for kind, a in algorithm.items() if isinstance(public, kind)), OKPAlgorithm.to_jwk
    )
    return {**to_jwk(public, as_dict=True), "kid": "k", **extra}


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_usable_signing_keys_load(rsa_key):
    assert parse_jwk(public_jwk(rsa_key)).fits("PS256")
    assert parse_jwk(public_jwk(rsa_key, use="sig", alg="RS256", key_ops=["verify"])).fits("RS256")
    assert parse_jwk(public_jwk(ec.generate_private_key(ec.SECP256R1()))).fits("ES256")
    assert parse_jwk(public_jwk(ed25519.Ed25519PrivateKey.generate())).fits("EdDSA")


def test_a_key_fits_only_the_algorithms_of_its_type_curve_and_alg(rsa_key):
    assert not parse_jwk(public_jwk(rsa_key, alg="RS256")).fits("PS256")
    assert not parse_jwk(public_jwk(rsa_key)).fits("ES256")
    assert not parse_jwk(public_jwk(rsa_key)).fits("HS256")
    p384 = parse_jwk(public_jwk(ec.generate_private_key(ec.SECP384R1())))
    assert p384.fits("ES384") and not p384.fits("ES256")


@pytest.mark.parametrize(
    "make",
    [
        lambda k: {"kty": "oct", "k": "c2VjcmV0", "kid": "k"},  # symmetric
        lambda k: public_jwk(k, use="enc"),  # encryption key
        lambda k: public_jwk(k, key_ops=["encrypt"]),
        lambda k: {name: v for name, v in public_jwk(k).items() if name != "kid"},  # no kid
        lambda k: public_jwk(k, alg="HS256"),  # alg of another type
        lambda k: public_jwk(k, alg="RSA-OAEP"),
        lambda k: RSAAlgorithm.to_jwk(k, as_dict=True) | {"kid": "k"},  # private key published
        lambda k: public_jwk(
            rsa.generate_private_key(public_exponent=65537, key_size=1024)
        ),  # too short
        lambda k: public_jwk(ec.generate_private_key(ec.SECP521R1())),  # curve not allowed
        lambda k: {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "k"},  # nonsense numbers
        lambda k: "not a key",
    ],
    ids=[
        "oct",
        "use-enc",
        "key-ops",
        "no-kid",
        "alg-hs256",
        "alg-rsa-oaep",
        "private",
        "rsa-1024",
        "p-521",
        "nonsense",
        "string",
    ],
)
def test_keys_that_must_not_verify_are_skipped(rsa_key, make):
    assert parse_jwk(make(rsa_key)) is None


def test_a_key_set_must_be_an_object_with_keys(rsa_key):
    assert list(
        parse_jwks({"keys": [public_jwk(rsa_key), {"kty": "oct", "k": "eA", "kid": "s"}]})
    ) == ["k"]
    for document in (b"[]", b"{", b'{"keys": {}}', "null"):
        with pytest.raises(JwksError):
            parse_jwks(document)

"""Bearer-token verification: `TokenVerifier.verify(token) -> Principal` or `InvalidToken`.

One verifier per process, built by `verifier_from_settings`: without ``HAVEN_OIDC_*`` the local
issuer (`local_issuer`, EdDSA only, its public key read from ``$HAVEN_DATA_DIR`` at start-up),
else the external OpenID Connect provider, its keys from its JWKS URL (`jwks.JwksCache`),
asymmetric algorithms only. The claims and checks are described in docs/security.md (Tokens).

Each failed check gives one reason code (`errors.REASONS`). The algorithm is checked before
any key is looked up, so ``none`` and HS* cost no JWKS fetch, and the allow-list never holds a
symmetric algorithm: with a public verification key, an HMAC "secret" is public too. Keys come
only from configuration, never from the token's header (``jku``, ``x5u``, ``jwk``, ``x5c``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection
from typing import Any

import jwt
from cachetools import TTLCache
from jwt import exceptions as jwt_errors

from services.identity.claims import DEFAULT_ROLE_CLAIM, Principal, principal_from_claims
from services.identity.errors import InvalidToken
from services.identity.jwks import Fetch, JwksCache, KeySource, StaticKeys
from services.identity.local_issuer import LOCAL_AUDIENCE, LOCAL_ISSUER, LocalIssuer
from services.identity.role_map import RoleMap, load_role_map
from services.settings import Settings

__all__ = ["InvalidToken", "JwksCache", "TokenVerifier", "verifier_from_settings"]

LOCAL_ALGORITHMS = frozenset({"EdDSA"})
OIDC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"})
REQUIRED_CLAIMS = ("sub", "exp", "iat", "iss", "aud", "org", "roles")
DEFAULT_LEEWAY_SECONDS = 30.0
DEFAULT_MAX_LIFETIME_SECONDS = 24 * 3600.0  # exp - iat; longer-lived tokens are refused
MAX_TOKEN_LENGTH = 8192
VERIFIED_CACHE_SIZE = 10_000
VERIFIED_TTL_SECONDS = 300.0

_PYJWT_OPTIONS: Any = {
    "verify_signature": True,
    "verify_aud": True,
    "require": list(REQUIRED_CLAIMS),
    "strict_aud": False,
    # Ours instead: times against the injectable clock; the issuer by exact equality (PyJWT
    # 2.10.0 matched substrings, CVE-2024-53861); sub/jti types in `principal_from_claims`.
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
}
# Most specific first: InvalidSignatureError is a DecodeError, the others InvalidTokenErrors.
_REASON_FOR_ERROR: tuple[tuple[type[Exception], str], ...] = (
    (jwt_errors.InvalidSignatureError, "bad-signature"),
    (jwt_errors.InvalidKeyError, "bad-signature"),
    (jwt_errors.InvalidAlgorithmError, "algorithm-not-allowed"),
    (jwt_errors.MissingRequiredClaimError, "missing-claims"),
    (jwt_errors.InvalidAudienceError, "wrong-audience"),
    (jwt_errors.PyJWTError, "malformed"),
)


class TokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        keys: KeySource,
        algorithms: Collection[str],
        leeway: float = DEFAULT_LEEWAY_SECONDS,
        max_lifetime: float = DEFAULT_MAX_LIFETIME_SECONDS,
        clock: Callable[[], float] = time.time,
        role_claim: str = DEFAULT_ROLE_CLAIM,
        role_map: RoleMap | None = None,
    ) -> None:
        if not algorithms or not set(algorithms) <= OIDC_ALGORITHMS:
            raise ValueError("algorithms must be a non-empty subset of the asymmetric allow-list")
        self.issuer = issuer
        self.audience = audience
        self.algorithms = frozenset(algorithms)
        self._keys = keys
        self._leeway = leeway
        self._max_lifetime = max_lifetime
        self._clock = clock
        # the roles of an external provider's tokens: their claim, and its groups' Haven roles
        self._role_claim = role_claim
        self._role_map = role_map
        self._options = (
            _PYJWT_OPTIONS
            if role_claim == DEFAULT_ROLE_CLAIM
            else {**_PYJWT_OPTIONS, "require": [c for c in REQUIRED_CLAIMS if c != "roles"]}
        )
        # Tokens whose signature and claims were verified, for VERIFIED_TTL_SECONDS: a client
        # sends the same token with every request, and PyJWT's decoding costs more than the
        # rest of a case read. Times are still checked on every use, so a cached token expires
        # on time, and the key is looked up each time, so a withdrawn key stops them at once.
        self._verified: TTLCache[str, tuple[dict[str, Any], str, Any]] = TTLCache(
            VERIFIED_CACHE_SIZE, VERIFIED_TTL_SECONDS
        )

    @classmethod
    def for_local_issuer(cls, issuer: LocalIssuer, **options: Any) -> TokenVerifier:
        return cls(
            issuer=LOCAL_ISSUER,
            audience=LOCAL_AUDIENCE,
            keys=StaticKeys(issuer.jwks()),
            algorithms=LOCAL_ALGORITHMS,
            **options,
        )

    @classmethod
    def for_oidc(
        cls, *, issuer: str, audience: str, jwks: JwksCache, **options: Any
    ) -> TokenVerifier:
        return cls(
            issuer=issuer, audience=audience, keys=jwks, algorithms=OIDC_ALGORITHMS, **options
        )

    async def verify(self, token: str) -> Principal:
        if (
            not isinstance(token, str)
            or not 0 < len(token) <= MAX_TOKEN_LENGTH
            or not token.isascii()
        ):
            raise InvalidToken("malformed")
        cached = self._verified.get(token)
        # A cached verification counts only while its key is still the provider's key for
        # that kid (a withdrawn or replaced key sends the token through full verification).
        if cached is not None and await self._keys.key(cached[1]) is cached[2]:
            claims = cached[0]
        else:
            claims, kid, key = await self._verify_signature_and_claims(token)
            self._verified[token] = (claims, kid, key)
        self._check_times(claims)
        return self._principal(claims)

    async def _verify_signature_and_claims(self, token: str) -> tuple[dict[str, Any], str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt_errors.PyJWTError:
            raise InvalidToken("malformed") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise InvalidToken("algorithm-not-allowed")
        if "crit" in header or "b64" in header:
            raise InvalidToken("malformed")
        kid = header.get("kid")
        key = await self._keys.key(kid) if isinstance(kid, str) and kid else None
        if key is None:
            raise InvalidToken("unknown-kid")
        if not key.fits(alg):
            raise InvalidToken("algorithm-not-allowed")
        try:
            claims = jwt.decode(
                token,
                key.public_key,
                algorithms=[alg],
                audience=self.audience,
                options=self._options,
            )
        except jwt_errors.PyJWTError as error:
            reason = next(reason for kind, reason in _REASON_FOR_ERROR if isinstance(error, kind))
            raise InvalidToken(reason) from None
        if claims["iss"] != self.issuer:
            raise InvalidToken("wrong-issuer")
        self._principal(claims)  # refuse malformed claims before caching
        return claims, kid, key

    def _principal(self, claims: dict[str, Any]) -> Principal:
        return principal_from_claims(claims, role_claim=self._role_claim, role_map=self._role_map)

    def _check_times(self, claims: dict[str, Any]) -> None:
        now = self._clock()
        if now >= _seconds(claims["exp"]) + self._leeway:
            raise InvalidToken("expired")
        if now + self._leeway < _seconds(claims["iat"]):
            raise InvalidToken("not-yet-valid")
        if _seconds(claims["exp"]) - _seconds(claims["iat"]) > self._max_lifetime + self._leeway:
            raise InvalidToken("lifetime-too-long")
        if claims.get("nbf") is not None and now + self._leeway < _seconds(claims["nbf"]):
            raise InvalidToken("not-yet-valid")


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidToken("invalid-claims")
    return float(value)


def verifier_from_settings(
    settings: Settings, *, fetch: Fetch | None = None, clock: Callable[[], float] = time.time
) -> TokenVerifier:
    """The external provider when `HAVEN_OIDC_*` is set, its roles read as
    `HAVEN_OIDC_ROLE_CLAIM` and `HAVEN_OIDC_ROLE_MAP` say (a malformed map file raises
    `RoleMapError`), else the local issuer (creating its key)."""
    if settings.oidc_issuer and settings.oidc_audience and settings.oidc_jwks_url:
        return TokenVerifier.for_oidc(
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            jwks=JwksCache(settings.oidc_jwks_url, fetch=fetch),
            clock=clock,
            max_lifetime=settings.token_max_lifetime,
            role_claim=settings.oidc_role_claim,
            role_map=None
            if settings.oidc_role_map is None
            else load_role_map(settings.oidc_role_map),
        )
    return TokenVerifier.for_local_issuer(
        LocalIssuer.open(settings.data_dir), clock=clock, max_lifetime=settings.token_max_lifetime
    )

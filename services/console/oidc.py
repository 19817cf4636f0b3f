"""The console as an OpenID Connect client: the authorisation code flow with PKCE (RFC 7636,
S256) at the external identity provider that also issues the API's tokens.

* Discovery: `{issuer}/.well-known/openid-configuration`, fetched as the JWKS is (urllib in
  a worker thread, redirects refused, https except to the loopback interface, the body
  capped), kept for `DISCOVERY_MAX_AGE` seconds; its ``issuer`` must equal the configured
  one exactly, and its endpoints must be https.
* The flow's secrets (`Flow`): ``state`` (against login CSRF), ``nonce`` (binds the ID token
  to this browser's attempt) and the PKCE ``code_verifier``, each 256 bits or more from
  `secrets`, kept in the server-side session only; the browser sees ``state`` and the
  verifier's S256 challenge.
* The code is exchanged at the token endpoint with the verifier, the client authenticating
  with ``client_secret_basic`` when it has a secret (a confidential client).
* The ID token is checked here: signature by the provider's JWKS (asymmetric algorithms
  only), ``iss``, ``aud`` (the client id, and ``azp`` when there are several audiences),
  ``exp``/``iat``, ``nonce`` (constant time) and ``at_hash`` when present. Who signs in is
  then decided by the access token, verified by the API's own verifier (`services.api.auth`),
  so the console knows people exactly as the API does.

Every refusal is a `SignInRefused` carrying a reason code only (never a token, code or
provider text); `ProviderUnavailable` when the provider could not be reached.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple
from urllib.parse import quote_plus, urlencode, urlsplit

import jwt
from jwt import exceptions as jwt_errors

from services.identity.jwks import (
    FETCH_TIMEOUT_SECONDS,
    LOOPBACK,
    NO_REDIRECTS,
    Fetch,
    JwksCache,
    fetch_url,
)
from services.identity.verifier import DEFAULT_LEEWAY_SECONDS, OIDC_ALGORITHMS

DISCOVERY_PATH = "/.well-known/openid-configuration"
DISCOVERY_MAX_AGE = 3600.0
RETRY_INTERVAL = 30.0  # after a failed discovery, the provider is not asked again sooner
MAX_RESPONSE_BYTES = 1 << 20
MAX_ID_TOKEN_LIFETIME = 24 * 3600.0
SCOPE = "openid"
_AT_HASH = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}
_ID_TOKEN_OPTIONS: Any = {
    "verify_signature": True,
    "verify_aud": True,
    "strict_aud": False,
    "require": ["iss", "sub", "aud", "exp", "iat"],
    "verify_exp": False,  # against the injectable clock, below
    "verify_nbf": False,
    "verify_iat": False,
    "verify_iss": False,  # by exact equality, below
    "verify_sub": False,
    "verify_jti": False,
}


class SignInRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProviderUnavailable(SignInRefused):
    """The identity provider could not be reached, or answered with a server error."""


class Provider(NamedTuple):
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


class Flow(NamedTuple):
    state: str
    nonce: str
    code_verifier: str

    @classmethod
    def new(cls) -> Flow:
        return cls(secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64))


class Tokens(NamedTuple):
    id_token: str
    access_token: str


def code_challenge(code_verifier: str) -> str:
    """The S256 challenge of a PKCE verifier (RFC 7636 §4.2)."""
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def secure_url(url: object) -> bool:
    """Whether `url` is https, or http to the loopback interface (for tests)."""
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and parts.hostname in LOOPBACK


def _post_blocking(url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with NO_REDIRECTS.open(request, timeout=FETCH_TIMEOUT_SECONDS) as response:
            status, answer = response.status, response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as error:
        status, answer = error.code, b""
    if len(answer) > MAX_RESPONSE_BYTES:
        raise ValueError("token response is larger than 1 MiB")
    return status, answer


class OidcClient:
    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        redirect_uri: str,
        client_secret: str | None = None,
        fetch: Fetch | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        leeway: float = DEFAULT_LEEWAY_SECONDS,
    ) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self._secret = client_secret
        self._fetch = fetch or fetch_url
        self._clock = clock
        self._monotonic = monotonic
        self._leeway = leeway
        self._provider: Provider | None = None
        self._fetched_at = 0.0
        self._failed_at: float | None = None
        self._keys: JwksCache | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"OidcClient(issuer={self.issuer!r}, client_id={self.client_id!r})"

    async def provider(self) -> Provider:
        """The provider's endpoints, from its discovery document (kept `DISCOVERY_MAX_AGE`)."""
        async with self._lock:
            now = self._monotonic()
            if self._provider is not None and now - self._fetched_at < DISCOVERY_MAX_AGE:
                return self._provider
            if self._failed_at is not None and now - self._failed_at < RETRY_INTERVAL:
                if self._provider is not None:
                    return self._provider
                raise ProviderUnavailable("discovery-unavailable")
            try:
                provider = await self._discover()
            except ProviderUnavailable:
                self._failed_at = now
                if self._provider is not None:  # an outage keeps the endpoints already known
                    return self._provider
                raise
            except SignInRefused:
                self._failed_at = now
                raise
            if self._provider is None or provider.jwks_uri != self._provider.jwks_uri:
                self._keys = JwksCache(provider.jwks_uri, fetch=self._fetch)
            self._provider, self._fetched_at, self._failed_at = provider, now, None
            return provider

    async def _discover(self) -> Provider:
        url = self.issuer.rstrip("/") + DISCOVERY_PATH
        if not secure_url(url):
            raise SignInRefused("discovery-insecure-url")
        try:
            document = json.loads(await self._fetch(url))
        except (OSError, ValueError):
            raise ProviderUnavailable("discovery-unavailable") from None
        if not isinstance(document, dict):
            raise SignInRefused("discovery-invalid")
        if document.get("issuer") != self.issuer:
            raise SignInRefused("discovery-issuer-mismatch")
        endpoints = [
            document.get(name) for name in ("authorization_endpoint", "token_endpoint", "jwks_uri")
        ]
        if not all(secure_url(endpoint) for endpoint in endpoints):
            raise SignInRefused("discovery-invalid")
        methods = document.get("code_challenge_methods_supported")
        if methods is not None and (not isinstance(methods, list) or "S256" not in methods):
            raise SignInRefused("discovery-no-pkce")
        authorization, token, jwks = (str(endpoint) for endpoint in endpoints)
        return Provider(self.issuer, authorization, token, jwks)

    def authorization_url(self, provider: Provider, flow: Flow) -> str:
        """Where the browser goes to sign in (RFC 6749 §4.1.1, RFC 7636 §4.3)."""
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.redirect_uri,
                "scope": SCOPE,
                "state": flow.state,
                "nonce": flow.nonce,
                "code_challenge": code_challenge(flow.code_verifier),
                "code_challenge_method": "S256",
            }
        )
        separator = "&" if urlsplit(provider.authorization_endpoint).query else "?"
        return f"{provider.authorization_endpoint}{separator}{query}"

    async def exchange(self, provider: Provider, code: str, code_verifier: str) -> Tokens:
        """The tokens the provider gives for `code` and this flow's verifier (RFC 6749 §4.1.3)."""
        fields = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": code_verifier,
        }
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        if self._secret is None:
            fields["client_id"] = self.client_id  # a public client names itself
        else:  # client_secret_basic (RFC 6749 §2.3.1: each part form-encoded first)
            pair = f"{quote_plus(self.client_id)}:{quote_plus(self._secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        try:
            status, body = await asyncio.to_thread(
                _post_blocking, provider.token_endpoint, urlencode(fields).encode(), headers
            )
        except (OSError, ValueError):
            raise ProviderUnavailable("token-endpoint-unavailable") from None
        if status >= 500:
            raise ProviderUnavailable("token-endpoint-unavailable")
        if status != 200:
            raise SignInRefused("token-exchange-refused")
        try:
            answer = json.loads(body)
        except ValueError:
            raise SignInRefused("token-response-invalid") from None
        if not (
            isinstance(answer, dict)
            and isinstance(answer.get("id_token"), str)
            and isinstance(answer.get("access_token"), str)
            and str(answer.get("token_type", "")).lower() == "bearer"
        ):
            raise SignInRefused("token-response-invalid")
        return Tokens(answer["id_token"], answer["access_token"])

    async def check_id_token(self, id_token: str, nonce: str, access_token: str) -> dict[str, Any]:
        """The ID token's claims, once every check of OIDC Core §3.1.3.7 that applies passed."""
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt_errors.PyJWTError:
            raise SignInRefused("id-token-malformed") from None
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in OIDC_ALGORITHMS or "crit" in header:
            raise SignInRefused("id-token-algorithm-not-allowed")
        if self._keys is None:
            raise SignInRefused("id-token-unknown-kid")
        key = await self._keys.key(kid) if isinstance(kid, str) and kid else None
        if key is None or not key.fits(alg):
            raise SignInRefused("id-token-unknown-kid")
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key.public_key,
                algorithms=[alg],
                audience=self.client_id,
                options=_ID_TOKEN_OPTIONS,
            )
        except jwt_errors.InvalidAudienceError:
            raise SignInRefused("id-token-wrong-audience") from None
        except jwt_errors.PyJWTError:
            raise SignInRefused("id-token-invalid") from None
        if claims["iss"] != self.issuer:
            raise SignInRefused("id-token-wrong-issuer")
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if (len(audiences) > 1 or "azp" in claims) and claims.get("azp") != self.client_id:
            raise SignInRefused("id-token-wrong-audience")
        self._check_times(claims)
        sent = claims.get("nonce")
        if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), nonce.encode()):
            raise SignInRefused("id-token-nonce-mismatch")
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise SignInRefused("id-token-invalid")
        if "at_hash" in claims and not _at_hash_matches(claims["at_hash"], alg, access_token):
            raise SignInRefused("id-token-at-hash-mismatch")
        return claims

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        exp, iat = claims["exp"], claims["iat"]
        if not all(isinstance(t, int | float) and not isinstance(t, bool) for t in (exp, iat)):
            raise SignInRefused("id-token-invalid")
        now = self._clock()
        if now >= exp + self._leeway:
            raise SignInRefused("id-token-expired")
        if now + self._leeway < iat or exp - iat > MAX_ID_TOKEN_LIFETIME:
            raise SignInRefused("id-token-invalid")


def _at_hash_matches(at_hash: object, alg: str, access_token: str) -> bool:
    """OIDC Core §3.1.3.8: the left half of the access token's hash, by the ID token's alg."""
    digest = _AT_HASH.get(alg[-3:], hashlib.sha512)  # EdDSA (Ed25519): SHA-512
    full = digest(access_token.encode("ascii", "replace")).digest()
    expected = base64.urlsafe_b64encode(full[: len(full) // 2]).rstrip(b"=")
    return isinstance(at_hash, str) and hmac.compare_digest(expected, at_hash.encode())

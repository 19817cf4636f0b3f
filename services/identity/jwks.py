"""Where verification keys come from: a fixed set (the local issuer) or an OIDC JWKS URL.

`JwksCache` keeps the identity provider's keys in memory and goes back to the JWKS URL only
when it must:

* on first use;
* when a token names a kid it does not hold (the provider rotated keys), but at most once
  per `min_refresh_interval` seconds, so an attacker spraying random kids cannot make Haven
  hammer the provider, and a burst of requests for a new kid causes one fetch, not many;
* when the keys are older than `max_age`, so a key the provider withdrew stops verifying.

When a refresh fails, the keys already held stay in use (a provider outage must not log
everyone out); when no key set was ever fetched, verification fails with
``keys-unavailable``. The URL must be https (plain http only to 127.0.0.1/localhost, for
tests), redirects are not followed and the body is capped, because the key set decides whom
Haven believes.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from email.message import Message
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

from services.identity.errors import InvalidToken
from services.identity.jwk import VerificationKey, parse_jwks
from services.observability.logging import get_logger

log = get_logger("identity")

Fetch = Callable[[str], Awaitable[bytes]]
FETCH_TIMEOUT_SECONDS = 5.0
MAX_JWKS_BYTES = 1 << 20
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class KeySource(Protocol):
    async def key(self, kid: str) -> VerificationKey | None:
        """The key named `kid`, or None; raises `InvalidToken("keys-unavailable")`."""


class StaticKeys:
    """A key set known in advance (the local issuer's public key)."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self._keys = parse_jwks(jwks)

    async def key(self, kid: str) -> VerificationKey | None:
        return self._keys.get(kid)


def check_jwks_url(url: str) -> None:
    """Raise ValueError unless `url` is https, or http to the loopback interface."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in LOOPBACK:
        return
    raise ValueError(
        "HAVEN_OIDC_JWKS_URL must be an https:// URL (http:// only to 127.0.0.1 or localhost)"
    )


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> None:
        return None  # the 3xx then surfaces as an HTTPError


NO_REDIRECTS = urllib.request.build_opener(_RefuseRedirects)  # a redirect is an error


def _fetch_blocking(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with NO_REDIRECTS.open(request, timeout=FETCH_TIMEOUT_SECONDS) as response:
        body: bytes = response.read(MAX_JWKS_BYTES + 1)
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError("key set is larger than 1 MiB")
    return body


async def fetch_url(url: str) -> bytes:
    """The default fetch: urllib in a worker thread, so the event loop never blocks on the IdP."""
    return await asyncio.to_thread(_fetch_blocking, url)


class JwksCache:
    def __init__(
        self,
        url: str,
        *,
        fetch: Fetch | None = None,
        min_refresh_interval: float = 30.0,
        max_age: float = 3600.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        check_jwks_url(url)
        self._url = url
        self._fetch = fetch or fetch_url
        self._min_interval = min_refresh_interval
        self._max_age = max_age
        self._monotonic = monotonic
        self._keys: dict[str, VerificationKey] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last attempt, successful or not
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> VerificationKey | None:
        fresh = (
            self._fetched_at is not None and self._monotonic() - self._fetched_at < self._max_age
        )
        if not (fresh and kid in self._keys):
            await self._refresh()
        if self._fetched_at is None:
            raise InvalidToken("keys-unavailable")
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        async with self._lock:  # concurrent misses wait for one fetch, then read its result
            now = self._monotonic()
            if self._attempted_at is not None and now - self._attempted_at < self._min_interval:
                return
            self._attempted_at = now
            try:
                keys = parse_jwks(await self._fetch(self._url))
            except Exception as error:  # any failure of the provider: keep what we have
                log.warning(
                    "could not refresh the identity provider's key set",
                    error_code="jwks-refresh-failed",
                    exc_type=type(error).__name__,
                )
                return
            self._keys, self._fetched_at = keys, now

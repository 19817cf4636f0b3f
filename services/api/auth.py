"""Authentication: `Authorization: Bearer <token>` -> `request.user`, a verified `Principal`.

Every route requires a token except the operational ones in `PUBLIC_PATHS` (health,
readiness, metrics and the OpenAPI document) and the web console's (`CONSOLE_PATHS`), which
signs its users in with a session of its own. A refusal is 401 `unauthorized` with
`WWW-Authenticate: Bearer` (RFC 6750: `error="invalid_token"` when a token was sent); the
reason code is logged as `error_code` ("token-expired"...) and never sent, so a client
probing tokens learns nothing about why one failed. `keys-unavailable` (the identity
provider's key set could not be fetched) is 503: the caller did nothing wrong.

Authorisation (what the principal may do) is not decided here: guards do that, per route.
"""

from __future__ import annotations

from typing import Any, Protocol

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, ServiceUnavailableException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp

from services.api.observe import bind_scope
from services.identity import InvalidToken, Principal
from services.observability.logging import get_logger

# Anchored regular expressions (litestar matches `exclude` patterns with re.search).
PUBLIC_PATHS = ("^/health$", "^/ready$", "^/metrics$", "^/schema(/|$)")
# The web console authenticates its own requests (a signed-in session, `services.console`).
CONSOLE_PATHS = ("^/console(/|$)",)
BEARER_SCHEME = "Bearer"


class Verifier(Protocol):
    async def verify(self, token: str) -> Principal: ...


class BearerAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    def __init__(self, app: ASGIApp, verifier: Verifier, **options: Any) -> None:
        super().__init__(app, exclude=[*PUBLIC_PATHS, *CONSOLE_PATHS], **options)
        self.verifier = verifier

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        bind_scope(connection.scope)  # routed by now: refusals are logged with the route template
        token = bearer_token(connection.headers.getall("authorization", []))
        if token is None:
            get_logger("api").info("authentication refused", error_code="token-missing")
            raise NotAuthorizedException(headers={"WWW-Authenticate": BEARER_SCHEME})
        try:
            principal = await self.verifier.verify(token)
        except InvalidToken as refused:
            get_logger("api").info("authentication refused", error_code=f"token-{refused.reason}")
            if refused.reason == "keys-unavailable":
                raise ServiceUnavailableException() from None
            raise NotAuthorizedException(
                headers={"WWW-Authenticate": f'{BEARER_SCHEME} error="invalid_token"'}
            ) from None
        connection.scope["user"] = principal
        bind_scope(connection.scope)
        return AuthenticationResult(user=principal, auth=None)


def bearer_token(values: list[str]) -> str | None:
    """The token of exactly one `Authorization: Bearer <token>` header, else None.

    The scheme is case-insensitive (RFC 9110 §11.1); anything else (two headers, another
    scheme, no token, spaces inside the token) is no credential at all.
    """
    if len(values) != 1:
        return None
    scheme, _, token = values[0].strip().partition(" ")
    token = token.strip()
    if scheme.lower() != BEARER_SCHEME.lower() or not token or " " in token:
        return None
    return token

"""Identity: who is calling. Bearer JWTs from the embedded local issuer or an external
OpenID Connect provider, verified into a `Principal` (user, organisation, roles, team: the
organisation's default team, `DEFAULT_TEAM`, when the token names none).

Authorisation (what a principal may do) is not decided here; the API's guards do that.
"""

from crypto.signing import SigningKeyError
from services.identity.claims import DEFAULT_TEAM, ROLES, Principal
from services.identity.errors import REASONS, InvalidToken
from services.identity.local_issuer import LocalIssuer
from services.identity.verifier import TokenVerifier, verifier_from_settings

__all__ = [
    "DEFAULT_TEAM",
    "REASONS",
    "ROLES",
    "InvalidToken",
    "LocalIssuer",
    "Principal",
    "SigningKeyError",
    "TokenVerifier",
    "verifier_from_settings",
]

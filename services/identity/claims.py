"""Who a verified token says the caller is: `Principal`, built from the token's claims.

Claims read (the same names for the local issuer and an external OpenID Connect issuer):

* ``sub``   the user id;  ``org`` the organisation (tenant) id;  ``team`` optional team id:
  a token without one puts its holder on the organisation's default team, `DEFAULT_TEAM`
  (``default``), the same team as a token whose ``team`` is ``default``;
* ``roles`` a JSON array of role names; names Haven does not know are dropped, so an
  identity provider that also carries roles for other applications needs no filtering. An
  external provider's tokens may carry them in another claim (`HAVEN_OIDC_ROLE_CLAIM`), as
  the provider's own group names that a mapping file turns into Haven's roles
  (`HAVEN_OIDC_ROLE_MAP`, `services.identity.role_map`);
* ``jti``   optional token id (for audit records and, later, revocation);  ``exp`` expiry.

A token without a subject, an organisation or at least one known role is refused: Haven
authorises every request by organisation and role, so a principal lacking either could only
be given some implicit default, and implicit defaults are how tenants leak into each other.
The default team is not such a default: it is a team *within* the token's organisation, so a
team-less caller still sees only their own organisation's cases, and a team-less supervisor
the default team's caseload, never another team's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import msgspec

from domain.identifiers import is_identifier
from services.identity.errors import InvalidToken

ROLES: frozenset[str] = frozenset(
    {"caseworker", "supervisor", "privacy_officer", "reporter", "admin", "outreach"}
)
DEFAULT_TEAM = "default"  # the team of a token without a ``team`` claim, in every organisation
DEFAULT_ROLE_CLAIM = "roles"


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    organisation_id: str
    roles: frozenset[str]  # a non-empty subset of ROLES
    team_id: str  # the ``team`` claim, or DEFAULT_TEAM when the token has none
    token_id: str | None
    expires_at: dt.datetime  # UTC

    def has_role(self, role: str) -> bool:
        return role in self.roles


def principal_from_claims(
    claims: Mapping[str, Any],
    *,
    role_claim: str = DEFAULT_ROLE_CLAIM,
    role_map: Mapping[str, frozenset[str]] | None = None,
) -> Principal:
    """Build the principal from claims whose signature, issuer, audience and times are checked.

    `role_claim` names the claim holding the roles (or the provider's groups); `role_map`,
    when given, maps each group to Haven roles, and only mapped groups grant any."""
    listed = claimed(claims, role_claim)
    if claims.get("sub") is None or claims.get("org") is None or listed is None:
        raise InvalidToken("missing-claims")
    user, org, team, jti = claims["sub"], claims["org"], claims.get("team"), claims.get("jti")
    if not is_identifier(user) or not is_identifier(org):
        raise InvalidToken("invalid-claims")
    if team is not None and not is_identifier(team):
        raise InvalidToken("invalid-claims")
    if jti is not None and not isinstance(jti, str):
        raise InvalidToken("invalid-claims")
    if not isinstance(listed, list) or not all(isinstance(role, str) for role in listed):
        raise InvalidToken("invalid-claims")
    if role_map is None:
        roles = frozenset(listed) & ROLES
    else:
        roles = frozenset(role for group in listed for role in role_map.get(group, ())) & ROLES
    if not roles:
        raise InvalidToken("missing-claims")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise InvalidToken("invalid-claims")
    try:
        expires_at = dt.datetime.fromtimestamp(exp, dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidToken("invalid-claims") from None
    return Principal(
        user_id=user,
        organisation_id=org,
        roles=roles,
        team_id=DEFAULT_TEAM if team is None else team,
        token_id=jti,
        expires_at=expires_at,
    )


def claimed(claims: Mapping[str, Any], role_claim: str) -> Any:
    """The role claim's value: by its whole name (``https://example.org/groups`` is one
    claim), else as a dotted path into nested claims (``realm_access.roles``); None when
    absent."""
    if role_claim in claims:
        return claims[role_claim]
    value: Any = claims
    for part in role_claim.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value

"""Which Haven roles an identity provider's groups grant: `HAVEN_OIDC_ROLE_CLAIM` names the
claim that holds the groups, `HAVEN_OIDC_ROLE_MAP` a file mapping each group to Haven roles.

The file is JSON or TOML (by its suffix, ``.toml``; anything else is read as JSON), one table
``groups``: a group's name -> a Haven role or a list of them::

    [groups]
    "HT Case Workers" = "caseworker"
    "HT Supervisors" = ["supervisor", "caseworker"]

With a map, only mapped groups grant roles: a group the map does not name grants nothing,
and so does a Haven role name the provider emits without the map naming it as a group. A
token whose groups grant no role is refused as one without roles is (`missing-claims`).
The file is read once, at start-up; a malformed one (unreadable, not a table of groups, a
role Haven does not know) stops the start rather than granting less or more than meant.

The claim is read by its whole name first (``https://example.org/groups`` is one claim),
then, when no claim has that name, as a dotted path into nested claims (Keycloak's
``realm_access.roles``).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from services.identity.claims import DEFAULT_ROLE_CLAIM, ROLES

__all__ = ["DEFAULT_ROLE_CLAIM", "RoleMap", "RoleMapError", "load_role_map", "role_map_of"]
MAX_MAP_BYTES = 1 << 20


class RoleMapError(ValueError):
    """The mapping file cannot be used; the message names the rule, never a group's name."""


RoleMap = Mapping[str, frozenset[str]]  # a group -> the Haven roles it grants


def load_role_map(path: Path) -> RoleMap:
    try:
        raw = path.read_bytes()
    except OSError:
        raise RoleMapError("HAVEN_OIDC_ROLE_MAP cannot be read") from None
    if len(raw) > MAX_MAP_BYTES:
        raise RoleMapError("HAVEN_OIDC_ROLE_MAP is larger than 1 MiB")
    try:
        text = raw.decode()
        document = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (UnicodeDecodeError, ValueError):
        raise RoleMapError("HAVEN_OIDC_ROLE_MAP is not valid JSON or TOML") from None
    return role_map_of(document)


def role_map_of(document: Any) -> RoleMap:
    groups = document.get("groups") if isinstance(document, dict) else None
    if not isinstance(groups, dict):
        raise RoleMapError("HAVEN_OIDC_ROLE_MAP must hold a table `groups`")
    mapped: dict[str, frozenset[str]] = {}
    for group, roles in groups.items():
        listed = [roles] if isinstance(roles, str) else roles
        if not isinstance(listed, list) or not all(isinstance(r, str) for r in listed):
            raise RoleMapError(
                "each group of HAVEN_OIDC_ROLE_MAP maps to a role or a list of roles"
            )
        if not set(listed) <= ROLES:
            known = ", ".join(sorted(ROLES))
            raise RoleMapError(f"HAVEN_OIDC_ROLE_MAP names a role Haven does not have ({known})")
        mapped[group] = frozenset(listed)
    return MappingProxyType(mapped)

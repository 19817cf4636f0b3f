"""The settings of the external OpenID Connect provider beyond its issuer, audience and keys
(`services.settings`): the console's client at it, and how its tokens' roles are read.

* `console_client`: `HAVEN_OIDC_CLIENT_ID`, `HAVEN_OIDC_CLIENT_SECRET` and
  `HAVEN_CONSOLE_URL` (the console's origin);
* `role_mapping`: `HAVEN_OIDC_ROLE_CLAIM` and `HAVEN_OIDC_ROLE_MAP` (the file itself is read
  by `services.identity.role_map` when the verifier is built).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from services.settings_error import SettingsError

MAX_CLIENT_ID = 1024
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def role_mapping(env: Mapping[str, str], *, oidc_issuer: str | None) -> tuple[str, Path | None]:
    """`HAVEN_OIDC_ROLE_CLAIM` (default ``roles``) and `HAVEN_OIDC_ROLE_MAP` (a file), which
    apply to an external provider's tokens only."""
    claim = env.get("HAVEN_OIDC_ROLE_CLAIM") or None
    role_map = env.get("HAVEN_OIDC_ROLE_MAP") or None
    if (claim or role_map) and oidc_issuer is None:
        raise SettingsError(
            "HAVEN_OIDC_ROLE_CLAIM and HAVEN_OIDC_ROLE_MAP need HAVEN_OIDC_ISSUER (an external "
            "provider)"
        )
    if claim is not None and (
        not claim.isprintable() or claim != claim.strip() or len(claim) > 256
    ):
        raise SettingsError(
            "HAVEN_OIDC_ROLE_CLAIM must be a claim name (printable, no spaces around)"
        )
    if role_map is not None and not Path(role_map).is_file():
        raise SettingsError("HAVEN_OIDC_ROLE_MAP must name a JSON or TOML file")
    return claim or "roles", None if role_map is None else Path(role_map).absolute()


def console_client(
    env: Mapping[str, str], *, oidc_issuer: str | None
) -> tuple[str | None, str | None, str | None]:
    """The console's OIDC client id, its secret (a confidential client's) and the console's
    origin, checked: all need the external provider, and a client id needs the origin."""
    client_id = env.get("HAVEN_OIDC_CLIENT_ID") or None
    secret = env.get("HAVEN_OIDC_CLIENT_SECRET") or None
    console_url = env.get("HAVEN_CONSOLE_URL") or None
    if client_id is None:
        if secret is not None or console_url is not None:
            raise SettingsError(
                "HAVEN_OIDC_CLIENT_SECRET and HAVEN_CONSOLE_URL need HAVEN_OIDC_CLIENT_ID"
            )
        return None, None, None
    if oidc_issuer is None:
        raise SettingsError("HAVEN_OIDC_CLIENT_ID needs HAVEN_OIDC_ISSUER (an external provider)")
    if not (len(client_id) <= MAX_CLIENT_ID and client_id.isprintable() and " " not in client_id):
        raise SettingsError("HAVEN_OIDC_CLIENT_ID must be printable text without spaces")
    if secret is not None and not (len(secret) <= MAX_CLIENT_ID and secret.isprintable()):
        raise SettingsError("HAVEN_OIDC_CLIENT_SECRET must be printable text")
    if console_url is None:
        raise SettingsError("HAVEN_OIDC_CLIENT_ID needs HAVEN_CONSOLE_URL (the console's origin)")
    return client_id, secret, _origin(console_url)


def _origin(url: str) -> str:
    """`https://host[:port]` (http only to the loopback interface), without a trailing slash."""
    try:
        parts = urlsplit(url.rstrip("/"))
        parts.port  # noqa: B018 (raises ValueError for a port that is not one)
    except ValueError:
        parts = urlsplit("")
    secure = parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)
    if not secure or not parts.hostname or parts.path or parts.query or parts.fragment:
        raise SettingsError(
            "HAVEN_CONSOLE_URL must be an origin such as https://haven.example.org "
            "(http:// only to 127.0.0.1 or localhost), without a path"
        )
    if parts.username is not None or parts.password is not None:
        raise SettingsError("HAVEN_CONSOLE_URL must not carry a user name or password")
    return urlunsplit(parts)

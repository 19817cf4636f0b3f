"""Configuration, read once from the environment into a typed, immutable object.

Nothing else in Haven reads environment variables: the settings object is passed down. The
variables, their meaning and their defaults are in the README (Configuration).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import msgspec

MAX_ORGANISATION_ID = 256  # as for the `org` claim of a token (`services.identity.claims`)


class SettingsError(Exception):
    pass


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str | None  # None: run the embedded PostgreSQL under data_dir
    data_dir: Path
    kek_uri: str
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    team_access: frozenset[str] = frozenset()  # organisation ids
    # federal reporting's own login (role haven_reporting); None: the application's server and
    # database as the user haven_reporting, without a password (`reporting_url`)
    reporting_database_url: str | None = None
    checkpoint_key: Path | None = None  # None: checkpoint-signing-key.pem in data_dir
    checkpoint_dir: Path | None = None  # where `haven worker` writes checkpoints; None: it does not
    checkpoint_interval: float = 3600.0
    token_max_lifetime: float = 24 * 3600.0  # seconds between a token's iat and exp, at most
    console_idle_minutes: float = 15.0  # a console session unused this long is signed out

    def reporting_url(self, database_url: str) -> str:
        """How the federal reporting job logs in: `HAVEN_REPORTING_DATABASE_URL`, else the
        application's database as the user haven_reporting (`services.reporting.job`)."""
        return self.reporting_database_url or login_as(database_url, "haven_reporting")

    @property
    def checkpoint_key_path(self) -> Path:
        return self.checkpoint_key or self.data_dir / "checkpoint-signing-key.pem"

    @property
    def embedded_database(self) -> bool:
        return self.database_url is None

    def team_access_for(self, organisation_id: str) -> bool:
        """Whether the organisation lets its case workers work their team's cases."""
        return organisation_id in self.team_access

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("HAVEN_DATA_DIR") or ".haven").absolute()
        kek_uri = env.get("HAVEN_KEK") or f"file:{data_dir / 'kek'}"
        if not kek_uri.startswith(("file:", "pkcs11:")):
            raise SettingsError("HAVEN_KEK must be 'file:PATH' or an RFC 7512 'pkcs11:' URI")
        database_url = env.get("HAVEN_DATABASE_URL") or None
        if database_url is not None and not database_url.startswith(
            ("postgresql://", "postgres://")
        ):
            raise SettingsError("HAVEN_DATABASE_URL must be a postgresql:// URL")
        reporting_url = env.get("HAVEN_REPORTING_DATABASE_URL") or None
        if reporting_url is not None and not reporting_url.startswith(
            ("postgresql://", "postgres://")
        ):
            raise SettingsError("HAVEN_REPORTING_DATABASE_URL must be a postgresql:// URL")
        oidc = [
            env.get(f"HAVEN_OIDC_{name}") or None for name in ("ISSUER", "AUDIENCE", "JWKS_URL")
        ]
        if any(oidc) and not all(oidc):
            raise SettingsError(
                "set all of HAVEN_OIDC_ISSUER, HAVEN_OIDC_AUDIENCE and HAVEN_OIDC_JWKS_URL, or none"
            )
        return cls(
            database_url=database_url,
            data_dir=data_dir,
            kek_uri=kek_uri,
            oidc_issuer=oidc[0],
            oidc_audience=oidc[1],
            oidc_jwks_url=oidc[2],
            team_access=_organisations(env.get("HAVEN_TEAM_ACCESS") or ""),
            reporting_database_url=reporting_url,
            checkpoint_key=Path(env["HAVEN_CHECKPOINT_KEY"]).absolute()
            if env.get("HAVEN_CHECKPOINT_KEY")
            else None,
            checkpoint_dir=Path(env["HAVEN_CHECKPOINT_DIR"]).absolute()
            if env.get("HAVEN_CHECKPOINT_DIR")
            else None,
            checkpoint_interval=_seconds(env, "HAVEN_CHECKPOINT_INTERVAL", 3600),
            token_max_lifetime=_seconds(env, "HAVEN_TOKEN_MAX_LIFETIME", 24 * 3600),
            console_idle_minutes=_minutes(env, "HAVEN_CONSOLE_IDLE_MINUTES", 15),
        )


def login_as(database_url: str, user: str) -> str:
    """The same server and database as `database_url`, logging in as `user` without a password
    (for servers that trust local logins, as the embedded one does)."""
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.netloc.rpartition('@')[2]}"))


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        seconds = float(env.get(name) or default)
    except ValueError:
        seconds = float("nan")
    if not 1 <= seconds <= 7 * 24 * 3600:
        raise SettingsError(f"{name} must be seconds between 1 and 604800")
    return seconds


def _minutes(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        minutes = float(env.get(name) or default)
    except ValueError:
        minutes = float("nan")
    if not 1 <= minutes <= 24 * 60:
        raise SettingsError(f"{name} must be minutes between 1 and 1440")
    return minutes


def _organisations(value: str) -> frozenset[str]:
    """`org-a, org-b` -> {"org-a", "org-b"}; blanks around commas are ignored, an empty item
    (`org-a,,org-b`) or an id that is not printable text is refused."""
    if not value.strip():
        return frozenset()
    items = [item.strip() for item in value.split(",")]
    if not all(0 < len(item) <= MAX_ORGANISATION_ID and item.isprintable() for item in items):
        raise SettingsError("HAVEN_TEAM_ACCESS must be a comma-separated list of organisation ids")
    return frozenset(items)

"""Configuration, read once from the environment into a typed, immutable object.

Nothing else in Haven reads environment variables: the settings object is passed down.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec


class SettingsError(Exception):
    pass


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str | None  # None: run the embedded PostgreSQL under data_dir
    data_dir: Path
    kek_uri: str
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None

    @property
    def embedded_database(self) -> bool:
        return self.database_url is None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("HAVEN_DATA_DIR") or ".haven").absolute()
        kek_uri = env.get("HAVEN_KEK") or f"file:{data_dir / 'kek'}"
        if not kek_uri.startswith(("file:", "pkcs11:")):
            raise SettingsError("HAVEN_KEK must be 'file:PATH' or an RFC 7512 'pkcs11:' URI")
        database_url = env.get("HAVEN_DATABASE_URL") or None
        if database_url is not None and not database_url.startswith(("postgresql://", "postgres://")):
            raise SettingsError("HAVEN_DATABASE_URL must be a postgresql:// URL")
        oidc = [env.get(f"HAVEN_OIDC_{name}") or None for name in ("ISSUER", "AUDIENCE", "JWKS_URL")]
        if any(oidc) and not all(oidc):
            raise SettingsError("set all of HAVEN_OIDC_ISSUER, HAVEN_OIDC_AUDIENCE and HAVEN_OIDC_JWKS_URL, or none")
        return cls(
            database_url=database_url, data_dir=data_dir, kek_uri=kek_uri,
            oidc_issuer=oidc[0], oidc_audience=oidc[1], oidc_jwks_url=oidc[2],
        )

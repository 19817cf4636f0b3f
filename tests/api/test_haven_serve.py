"""`haven serve --demo` as a newcomer runs it: embedded PostgreSQL, demo data, printed
tokens that work (the caseworker's opens an inbox with a partner's referral waiting), /ready
once it can serve, a clean stop on Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from crypto.providers import FileKeyProvider
from services.serve_command import exposure_warning
from tests.api.test_served import READY_ATTEMPTS, free_port
from tests.services.test_database_paths import haven_env

pytestmark = pytest.mark.slow

REPOSITORY = Path(__file__).resolve().parents[2]


async def test_haven_serve_demo_prints_working_tokens_and_stops_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")}
    env["HAVEN_DATA_DIR"] = str(tmp_path / "data")
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", "--demo", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPOSITORY,
        )
        try:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", timeout=5.0
            ) as client:
                for _ in range(READY_ATTEMPTS * 3):  # embedded start and demo seeding come first
                    assert process.poll() is None, log.read_text(errors="replace")[-2000:]
                    with contextlib.suppress(httpx.TransportError):
                        if (await client.get("/ready")).status_code == 200:
                            break
                    await asyncio.sleep(0.1)
                else:
                    pytest.fail(
                        "haven serve never became ready: " + log.read_text(errors="replace")[-2000:]
                    )
                printed = log.read_text(errors="replace")
                tokens = {
                    line.split()[0]: line.split()[1]
                    for line in printed.splitlines()
                    if line.startswith("  ")
                    and line.split()[0]
                    in (
                        "caseworker",
                        "supervisor",
                        "privacy_officer",
                        "reporter",
                        "admin",
                        "outreach",
                    )
                }
                assert set(tokens) == {
                    "caseworker",
                    "supervisor",
                    "privacy_officer",
                    "reporter",
                    "admin",
                    "outreach",
                }
                for role, token in tokens.items():
                    me = await client.get(
                        "/v1/whoami", headers={"Authorization": f"Bearer {token}"}
                    )
                    assert me.status_code == 200 and me.json()["roles"] == [role]
                    assert me.json()["organisation_id"] == "org-harbor"
                assert "seeded" in printed and "synthetic cases" in printed
                console = f"haven: web console: http://127.0.0.1:{port}/console/"
                assert console in printed
                sign_in = await client.get("/console/", follow_redirects=True)
                assert sign_in.status_code == 200 and "worker-harbor-intake-1" in sign_in.text
                # the demo's partner referral waits in org-harbor's inbox, as printed
                assert f"GET http://127.0.0.1:{port}/v1/inbox" in printed
                worker = {"Authorization": f"Bearer {tokens['caseworker']}"}
                for _ in range(READY_ATTEMPTS):  # 503 until the projectors built the inbox
                    inbox = await client.get("/v1/inbox?waiting=true", headers=worker)
                    if inbox.status_code != 503:
                        break
                    await asyncio.sleep(0.1)
                assert inbox.status_code == 200, inbox.text
                (item,) = inbox.json()["items"]
                assert (item["from_organisation"], item["status"]) == ("org-meadow", "sent")
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    assert process.returncode == 0, log.read_text(errors="replace")[-2000:]
    assert "haven: stopped." in log.read_text(errors="replace")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "haven.example.org"])
def test_serving_beyond_this_machine_without_tls_warns_loudly(host: str) -> None:
    warning = exposure_warning(host)
    assert warning is not None and "WARNING" in warning and "TLS" in warning and host in warning


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_control_loopback_is_quiet(host: str) -> None:
    assert exposure_warning(host) is None


def test_a_key_file_readable_by_others_is_one_line_and_exit_2(
    database_url: str, tmp_path: Path
) -> None:
    """Not a traceback: the operator is told what to fix. Control: chmod 600 and it runs."""
    key = tmp_path / "kek"
    FileKeyProvider(key).close()
    key.chmod(0o644)
    env = haven_env(
        HAVEN_DATABASE_URL=database_url, HAVEN_DATA_DIR=str(tmp_path), HAVEN_KEK=f"file:{key}"
    )
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "projections", "status"],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert (
        done.stderr.strip().splitlines()[-1]
        == f"haven: key file {key} must not be readable by group or others (chmod 600)"
    )
    assert "Traceback" not in done.stderr
    key.chmod(0o600)
    again = subprocess.run(
        [sys.executable, "-m", "services.cli", "projections", "status"],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert again.returncode == 0, again.stderr

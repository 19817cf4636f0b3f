"""`haven token` as a real process: the token alone on stdout; refused under an external IdP.

Run through the `haven` command line itself (``python -m services.cli token``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest

from services.identity import verifier_from_settings
from services.identity.cli import parse_ttl
from services.identity.local_issuer import KEY_FILE_NAME
from services.settings import Settings

REPOSITORY = Path(__file__).resolve().parents[3]


def haven_token(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("HAVEN_")}
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "token", *args],
        cwd=REPOSITORY,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


async def test_haven_token_prints_one_line_holding_a_token_that_verifies(tmp_path):
    minted = haven_token(
        "--user",
        "worker-7",
        "--org",
        "org-a",
        "--role",
        "caseworker",
        "--role",
        "supervisor",
        "--team",
        "team-3",
        "--ttl",
        "30m",
        HAVEN_DATA_DIR=str(tmp_path),
    )
    assert minted.returncode == 0, minted.stderr
    assert minted.stderr == ""
    lines = minted.stdout.splitlines()
    assert len(lines) == 1 and minted.stdout == lines[0] + "\n"
    assert stat.S_IMODE((tmp_path / KEY_FILE_NAME).stat().st_mode) == 0o600

    verifier = verifier_from_settings(Settings.from_environ({"HAVEN_DATA_DIR": str(tmp_path)}))
    principal = await verifier.verify(lines[0])
    assert (principal.user_id, principal.organisation_id, principal.team_id) == (
        "worker-7",
        "org-a",
        "team-3",
    )
    assert principal.roles == {"caseworker", "supervisor"}
    lifetime = principal.expires_at - dt.datetime.fromtimestamp(time.time(), dt.UTC)
    assert dt.timedelta(minutes=29) < lifetime <= dt.timedelta(minutes=30)


async def test_haven_token_without_team_mints_a_token_of_the_default_team(tmp_path):
    minted = haven_token(
        "--user", "worker-8", "--org", "org-a", "--role", "caseworker", HAVEN_DATA_DIR=str(tmp_path)
    )
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    assert "team" not in jwt.decode(
        token, options={"verify_signature": False}
    )  # no claim is invented
    verifier = verifier_from_settings(Settings.from_environ({"HAVEN_DATA_DIR": str(tmp_path)}))
    principal = await verifier.verify(token)
    assert (principal.user_id, principal.organisation_id, principal.team_id) == (
        "worker-8",
        "org-a",
        "default",
    )


def test_haven_token_is_refused_when_an_external_issuer_is_configured(tmp_path):
    refused = haven_token(
        "--user",
        "u",
        "--org",
        "org-a",
        "--role",
        "admin",
        HAVEN_DATA_DIR=str(tmp_path),
        HAVEN_OIDC_ISSUER="https://idp.example",
        HAVEN_OIDC_AUDIENCE="haven",
        HAVEN_OIDC_JWKS_URL="https://idp.example/jwks",
    )
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert "external identity provider" in refused.stderr
    assert not (tmp_path / KEY_FILE_NAME).exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--user", "u", "--org", "org-a", "--role", "superuser"],
        ["--user", "u", "--org", "org-a", "--role", "admin", "--ttl", "25h"],
        ["--user", "u", "--org", "org-a"],
        ["--user", "", "--org", "org-a", "--role", "admin"],
    ],
    ids=["unknown-role", "ttl-over-24h", "no-role", "empty-user"],
)
def test_haven_token_refuses_bad_arguments_with_exit_2_and_no_token(tmp_path, args):
    refused = haven_token(*args, HAVEN_DATA_DIR=str(tmp_path))
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert refused.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", dt.timedelta(seconds=90)),
        ("30m", dt.timedelta(minutes=30)),
        ("8h", dt.timedelta(hours=8)),
        ("1d", dt.timedelta(days=1)),
        ("24h", dt.timedelta(hours=24)),
    ],
)
def test_lifetimes_parse(text, expected):
    assert parse_ttl(text) == expected


@pytest.mark.parametrize("text", ["0m", "25h", "2d", "8", "h", "-1h", "1.5h", "8H", "1w", ""])
def test_lifetimes_outside_the_rules_are_refused(text):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_ttl(text)

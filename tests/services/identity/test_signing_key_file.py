"""The local issuer's key file: created 0600 once, reused after, refused when exposed."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.identity import LocalIssuer, SigningKeyError, TokenVerifier, verifier_from_settings
from services.identity.local_issuer import KEY_FILE_NAME
from services.settings import Settings


def test_the_key_file_is_created_0600_and_reused(tmp_path):
    first = LocalIssuer.open(tmp_path / "data")
    path = tmp_path / "data" / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    body = path.read_bytes()
    second = LocalIssuer.open(tmp_path / "data")
    assert second.kid == first.kid
    assert path.read_bytes() == body
    assert [p.name for p in path.parent.iterdir()] == [KEY_FILE_NAME]  # no temporary file left


async def test_a_token_minted_by_one_process_verifies_in_another(tmp_path):
    token = LocalIssuer.open(tmp_path).mint("u", "org-a", ["caseworker"])
    principal = await TokenVerifier.for_local_issuer(LocalIssuer.open(tmp_path)).verify(token)
    assert principal.user_id == "u"


def test_processes_starting_together_share_one_key(tmp_path):
    with ThreadPoolExecutor(max_workers=8) as pool:
        kids = set(pool.map(lambda _: LocalIssuer.open(tmp_path).kid, range(16)))
    assert len(kids) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [KEY_FILE_NAME]


def test_a_key_file_readable_by_others_is_refused(tmp_path):
    LocalIssuer.open(tmp_path)
    (tmp_path / KEY_FILE_NAME).chmod(0o644)
    with pytest.raises(SigningKeyError, match="chmod 600"):
        LocalIssuer.open(tmp_path)


def test_a_key_file_that_is_not_an_ed25519_key_is_refused(tmp_path):
    path = tmp_path / KEY_FILE_NAME
    path.write_bytes(b"not a key")
    path.chmod(0o600)
    with pytest.raises(SigningKeyError, match="cannot read") as caught:
        LocalIssuer.open(tmp_path)
    assert "not a key" not in str(caught.value)


def test_the_published_key_set_holds_no_private_material(tmp_path):
    jwks = LocalIssuer.open(tmp_path).jwks()
    assert [sorted(key) for key in jwks["keys"]] == [["alg", "crv", "kid", "kty", "use", "x"]]


async def test_settings_without_oidc_give_the_local_verifier(tmp_path):
    settings = Settings.from_environ({"HAVEN_DATA_DIR": str(tmp_path)})
    verifier = verifier_from_settings(settings)
    assert (verifier.issuer, verifier.audience, verifier.algorithms) == (
        "haven-local",
        "haven",
        {"EdDSA"},
    )
    token = LocalIssuer.open(tmp_path).mint("u", "org-a", ["admin"])
    assert (await verifier.verify(token)).roles == {"admin"}

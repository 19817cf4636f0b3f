"""KEK versions in the file provider: rotation, what running processes learn, retirement."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from crypto.errors import DecryptionError, KeyProviderError
from crypto.key_file import read_key_file, replace_key_file
from crypto.providers import FileKeyProvider

DATA_KEY = bytes(range(7, 39))  # synthetic
CONTEXT = b"stream:00000000-0000-0000-0000-00000000000a\x00key:k"


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "kek"


def test_rotate_writes_a_new_active_key_and_the_old_one_still_unwraps(key_path: Path) -> None:
    provider = FileKeyProvider(key_path)
    old_id, old_wrapped = provider.wrap("org-a", DATA_KEY, CONTEXT)
    assert old_id == "file:k1"  # control: the first key wraps before the rotation

    assert provider.rotate("org-a") == "file:k2"

    assert key_path.stat().st_mode & 0o777 == 0o600
    assert not [p for p in key_path.parent.iterdir() if p.name.endswith(".tmp")]
    new_id, new_wrapped = provider.wrap("org-a", DATA_KEY, CONTEXT)
    assert new_id == "file:k2"
    assert provider.unwrap("org-a", old_id, old_wrapped, CONTEXT) == DATA_KEY
    assert provider.unwrap("org-a", new_id, new_wrapped, CONTEXT) == DATA_KEY
    states = [(v.kek_id, v.state) for v in provider.versions("org-a")]
    assert states == [("file:k1", "retiring"), ("file:k2", "active")]
    assert all(v.created for v in provider.versions("org-a"))


def test_a_process_started_before_the_rotation_wraps_and_unwraps_under_the_new_key(
    key_path: Path,
) -> None:
    running = FileKeyProvider(key_path)  # a server that started before the rotation
    assert running.wrap("org-a", DATA_KEY, CONTEXT)[0] == "file:k1"  # control
    administrator = FileKeyProvider(key_path)
    kek_id = administrator.rotate("org-a")
    _, wrapped = administrator.wrap("org-a", DATA_KEY, CONTEXT)

    assert running.unwrap("org-a", kek_id, wrapped, CONTEXT) == DATA_KEY
    assert running.wrap("org-a", DATA_KEY, CONTEXT)[0] == kek_id


def test_attack_a_swapped_key_file_reusing_a_key_name_is_not_taken_up(key_path: Path) -> None:
    """A key file replaced by one that gives `k1` other material must not make new keys
    wrap under a `file:k1` that no longer opens the old ones."""
    running = FileKeyProvider(key_path)
    kek_id, wrapped = running.wrap("org-a", DATA_KEY, CONTEXT)
    forged = read_key_file(key_path)
    forged.keys["k1"] = os.urandom(32)
    replace_key_file(key_path, forged)

    with pytest.raises(KeyProviderError):
        running.check()
    assert running.unwrap("org-a", kek_id, wrapped, CONTEXT) == DATA_KEY  # kept its own key
    # control: a genuine rotation of the genuine file is taken up
    genuine = FileKeyProvider(key_path.with_name("genuine"))
    genuine.rotate("org-a")
    genuine.check()
    assert genuine.wrap("org-a", DATA_KEY, CONTEXT)[0] == "file:k2"


def test_retire_removes_the_key_keeps_its_dates_and_refuses_the_active_one(
    key_path: Path,
) -> None:
    provider = FileKeyProvider(key_path)
    old_id, old_wrapped = provider.wrap("org-a", DATA_KEY, CONTEXT)
    with pytest.raises(KeyProviderError, match="active"):
        provider.retire("org-a", "file:k1")  # control: the only, active key stays
    assert provider.unwrap("org-a", old_id, old_wrapped, CONTEXT) == DATA_KEY

    provider.rotate("org-a")
    provider.retire("org-a", "file:k1")

    document = json.loads(key_path.read_bytes())
    assert list(document["keys"]) == ["k2"]
    assert set(document["retired"]["k1"]) == {"created", "retired"}
    states = [(v.kek_id, v.state) for v in provider.versions("org-a")]
    assert states == [("file:k2", "active"), ("file:k1", "retired")]
    with pytest.raises(DecryptionError):
        FileKeyProvider(key_path).unwrap("org-a", old_id, old_wrapped, CONTEXT)
    assert provider.rotate("org-a") == "file:k3"  # a retired name is never given again


def test_versions_carry_no_key_material(key_path: Path) -> None:
    provider = FileKeyProvider(key_path)
    provider.rotate("org-a")
    shown = repr(provider.versions("org-a"))
    material = [base64.b64decode(v) for v in json.loads(key_path.read_bytes())["keys"].values()]
    assert len(material) == 2  # control: the file holds the keys the listing must not show
    for key in material:
        assert base64.b64encode(key).decode() not in shown and key.hex() not in shown

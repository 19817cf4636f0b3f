"""The `file:` key provider: a 0600 key file, one derived KEK per organisation."""

from __future__ import annotations

import base64
import json
import os
import traceback
from pathlib import Path

import pytest

from crypto.aead import random_key
from crypto.errors import DecryptionError, KeyProviderError
from crypto.provider_uri import provider_from_uri
from crypto.providers import FileKeyProvider, _create_key_file

DATA_KEY = bytes(range(100, 132))  # synthetic
CONTEXT = b"stream:00000000-0000-0000-0000-000000000001\x00key:k"
OTHER_CONTEXT = b"stream:00000000-0000-0000-0000-000000000002\x00key:k"


def mode_of(path: Path) -> int:
    return path.stat().st_mode & 0o777


def write_key_file(path: Path, document: object, mode: int = 0o600) -> None:
    path.write_text(json.dumps(document))
    path.chmod(mode)


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "kek"


def test_key_file_is_created_with_mode_0600_on_first_use(key_path: Path) -> None:
    assert not key_path.exists()
    FileKeyProvider(key_path)
    assert mode_of(key_path) == 0o600
    assert mode_of(key_path.parent) & 0o077 == 0
    document = json.loads(key_path.read_text())
    assert document["format"] == "haven-kek-file"
    assert len(base64.b64decode(document["keys"][document["active"]])) == 32


def test_key_file_is_reused_after_restart(key_path: Path) -> None:
    first = FileKeyProvider(key_path)
    kek_id, wrapped = first.wrap("org-a", DATA_KEY, CONTEXT)
    content = key_path.read_bytes()
    first.close()

    restarted = FileKeyProvider(key_path)
    assert key_path.read_bytes() == content
    assert restarted.unwrap("org-a", kek_id, wrapped, CONTEXT) == DATA_KEY


def test_control_another_key_file_does_not_unwrap(tmp_path: Path) -> None:
    kek_id, wrapped = FileKeyProvider(tmp_path / "one").wrap("org-a", DATA_KEY, CONTEXT)
    with pytest.raises(DecryptionError):
        FileKeyProvider(tmp_path / "two").unwrap("org-a", kek_id, wrapped, CONTEXT)


def test_missing_key_file_is_not_created_when_creation_is_off(key_path: Path) -> None:
    with pytest.raises(KeyProviderError):
        FileKeyProvider(key_path, create=False)
    assert not key_path.exists()


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o606])
def test_group_or_other_readable_key_file_is_refused(key_path: Path, mode: int) -> None:
    FileKeyProvider(key_path)
    key_path.chmod(mode)
    with pytest.raises(KeyProviderError, match="chmod 600"):
        FileKeyProvider(key_path)


def test_control_owner_only_key_file_is_accepted(key_path: Path) -> None:
    FileKeyProvider(key_path)
    for mode in (0o600, 0o400):
        key_path.chmod(mode)
        FileKeyProvider(key_path)


SECRET = base64.b64encode(b"\x5a" * 16).decode()  # key material of the wrong length
MALFORMED = {
    "not json": f"{{ not json {SECRET}",
    "not an object": json.dumps([SECRET]),
    "null": "null",
    "wrong format": json.dumps({"format": "other", "active": "k1", "keys": {"k1": SECRET}}),
    "short key": json.dumps({"format": "haven-kek-file", "active": "k1", "keys": {"k1": SECRET}}),
    "bad base64": json.dumps(
        {"format": "haven-kek-file", "active": "k1", "keys": {"k1": SECRET + "!"}}
    ),
    "missing active": json.dumps(
        {
            "format": "haven-kek-file",
            "active": "k9",
            "keys": {"k1": base64.b64encode(b"\x5a" * 32).decode()},
        }
    ),
    "keys not a mapping": json.dumps(
        {"format": "haven-kek-file", "active": "k1", "keys": [SECRET]}
    ),
    "active not a string": json.dumps(
        {"format": "haven-kek-file", "active": [SECRET], "keys": {"k1": SECRET}}
    ),
    "empty": "",
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_key_file_is_refused_without_key_material_in_the_message(
    key_path: Path, body: str
) -> None:
    key_path.parent.mkdir()
    key_path.write_text(body)
    key_path.chmod(0o600)
    with pytest.raises(KeyProviderError) as caught:
        FileKeyProvider(key_path)
    shown = "".join(traceback.format_exception(caught.value))  # the message and any chained error
    assert SECRET[:8] not in shown
    assert "5a5a5a5a" not in shown.lower()
    assert "ZZZZ" not in shown  # the raw bytes b"\x5a..." as text


def test_attack_data_key_wrapped_for_one_organisation_does_not_unwrap_for_another(
    key_path: Path,
) -> None:
    provider = FileKeyProvider(key_path)
    kek_id, wrapped = provider.wrap("org-a", DATA_KEY, CONTEXT)
    assert provider.unwrap("org-a", kek_id, wrapped, CONTEXT) == DATA_KEY  # control
    with pytest.raises(DecryptionError):
        provider.unwrap("org-b", kek_id, wrapped, CONTEXT)


def test_attack_wrapped_key_moved_to_another_stream_does_not_unwrap(key_path: Path) -> None:
    provider = FileKeyProvider(key_path)
    kek_id, wrapped = provider.wrap("org-a", DATA_KEY, CONTEXT)
    assert provider.unwrap("org-a", kek_id, wrapped, CONTEXT) == DATA_KEY  # control
    with pytest.raises(DecryptionError):
        provider.unwrap("org-a", kek_id, wrapped, OTHER_CONTEXT)


def test_attack_wrapped_key_presented_under_another_kek_id_does_not_unwrap(key_path: Path) -> None:
    provider = FileKeyProvider(key_path)
    kek_id, wrapped = provider.wrap("org-a", DATA_KEY, CONTEXT)
    assert kek_id == "file:k1"
    for forged in ("file:k2", "pkcs11:k1", "k1", ""):
        with pytest.raises(DecryptionError):
            provider.unwrap("org-a", forged, wrapped, CONTEXT)


def test_second_creator_keeps_the_first_key_file(key_path: Path) -> None:
    key_path.parent.mkdir()
    _create_key_file(key_path)
    first = key_path.read_bytes()
    _create_key_file(key_path)  # a second process that lost the race
    assert key_path.read_bytes() == first
    assert mode_of(key_path) == 0o600


def test_provider_started_after_another_created_the_file_uses_that_file(key_path: Path) -> None:
    first = FileKeyProvider(key_path)
    kek_id, wrapped = first.wrap("org-a", DATA_KEY, CONTEXT)
    second = FileKeyProvider(key_path)  # finds the file and must not replace it
    assert second.unwrap("org-a", kek_id, wrapped, CONTEXT) == DATA_KEY


def test_check_passes_for_a_readable_key_file(key_path: Path) -> None:
    FileKeyProvider(key_path).check()


def test_check_fails_when_the_key_file_is_gone(key_path: Path) -> None:
    provider = FileKeyProvider(key_path)
    os.remove(key_path)
    with pytest.raises(KeyProviderError):
        provider.check()


def test_provider_from_file_uri(key_path: Path) -> None:
    provider = provider_from_uri(f"file:{key_path}")
    assert isinstance(provider, FileKeyProvider)
    assert key_path.exists()


@pytest.mark.parametrize("uri", ["s3://bucket/kek", "", "FILE:/tmp/kek", "/tmp/kek", "env:KEK"])
def test_provider_from_unknown_scheme_is_refused(uri: str) -> None:
    with pytest.raises(KeyProviderError):
        provider_from_uri(uri)


def test_wrapped_key_does_not_contain_the_data_key(key_path: Path) -> None:
    key = random_key()
    _, wrapped = FileKeyProvider(key_path).wrap("org-a", key, CONTEXT)
    assert key not in wrapped

"""HAVEN_TLS_CERT and HAVEN_TLS_KEY: both or neither, files, a certificate and its own key."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.settings import Settings, SettingsError
from tests.tls_support import authority, server_certificate


def settings(tmp_path: Path, **tls: str) -> Settings:
    return Settings.from_environ({"HAVEN_DATA_DIR": str(tmp_path), **tls})


def test_a_certificate_and_its_key_are_taken(tmp_path: Path) -> None:
    served = server_certificate(authority(tmp_path / "ca"), tmp_path / "server", ["localhost"])
    chosen = settings(tmp_path, HAVEN_TLS_CERT=str(served.cert), HAVEN_TLS_KEY=str(served.key))
    assert (chosen.tls_cert, chosen.tls_key, chosen.tls) == (served.cert, served.key, True)
    assert not settings(tmp_path).tls  # control: neither set, plain HTTP


@pytest.mark.parametrize("given", ["HAVEN_TLS_CERT", "HAVEN_TLS_KEY"])
def test_one_without_the_other_is_refused(tmp_path: Path, given: str) -> None:
    served = server_certificate(authority(tmp_path / "ca"), tmp_path / "server", ["localhost"])
    with pytest.raises(SettingsError, match="both HAVEN_TLS_CERT and HAVEN_TLS_KEY, or neither"):
        settings(tmp_path, **{given: str(served.cert)})


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    served = server_certificate(authority(tmp_path / "ca"), tmp_path / "server", ["localhost"])
    missing = tmp_path / "nowhere.key"
    with pytest.raises(SettingsError, match=f"HAVEN_TLS_KEY: {missing} is not a file"):
        settings(tmp_path, HAVEN_TLS_CERT=str(served.cert), HAVEN_TLS_KEY=str(missing))


def test_a_key_that_is_not_the_certificates_is_refused(tmp_path: Path) -> None:
    ca = authority(tmp_path / "ca")
    served = server_certificate(ca, tmp_path / "server", ["localhost"])
    other = server_certificate(ca, tmp_path / "other", ["localhost"])
    with pytest.raises(SettingsError, match="a PEM certificate and its unencrypted PEM private"):
        settings(tmp_path, HAVEN_TLS_CERT=str(served.cert), HAVEN_TLS_KEY=str(other.key))
    with pytest.raises(SettingsError, match="a PEM certificate and its unencrypted PEM private"):
        settings(tmp_path, HAVEN_TLS_CERT=str(ca.pem), HAVEN_TLS_KEY=str(served.key))

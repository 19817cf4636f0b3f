"""Settings: read once from the environment, validated, immutable."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.settings import Settings, SettingsError

OIDC = {
    "HAVEN_OIDC_ISSUER": "https://id.example.test/realms/haven",
    "HAVEN_OIDC_AUDIENCE": "haven-api",
    "HAVEN_OIDC_JWKS_URL": "https://id.example.test/realms/haven/certs",
}


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_environ({})
    assert settings.data_dir == Path.cwd() / ".haven"
    assert settings.data_dir.is_absolute()
    assert settings.kek_uri == f"file:{Path.cwd() / '.haven' / 'kek'}"
    assert settings.database_url is None
    assert settings.embedded_database
    assert (settings.oidc_issuer, settings.oidc_audience, settings.oidc_jwks_url) == (
        None,
        None,
        None,
    )
    assert settings.team_access == frozenset()
    assert not settings.team_access_for("org-a")
    assert settings.console_idle_minutes == 15


def test_empty_values_mean_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    empty = {
        "HAVEN_DATA_DIR": "",
        "HAVEN_KEK": "",
        "HAVEN_DATABASE_URL": "",
        "HAVEN_TEAM_ACCESS": "",
        **{name: "" for name in OIDC},
    }
    assert Settings.from_environ(empty) == Settings.from_environ({})
    assert Settings.from_environ(empty).embedded_database


def test_data_dir_is_read(tmp_path: Path) -> None:
    settings = Settings.from_environ({"HAVEN_DATA_DIR": str(tmp_path / "data")})
    assert settings.data_dir == tmp_path / "data"
    assert settings.kek_uri == f"file:{tmp_path / 'data' / 'kek'}"


def test_relative_data_dir_is_made_absolute(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings.from_environ({"HAVEN_DATA_DIR": "state"}).data_dir == Path.cwd() / "state"


@pytest.mark.parametrize(
    "uri", ["file:/srv/haven/kek", "pkcs11:token=haven;object=kek?module-path=/lib/x.so"]
)
def test_kek_is_read(uri: str) -> None:
    assert Settings.from_environ({"HAVEN_KEK": uri}).kek_uri == uri


@pytest.mark.parametrize(
    "url", ["postgresql://haven@db.example.test/haven", "postgres://u:p@localhost:5432/h"]
)
def test_database_url_is_read(url: str) -> None:
    settings = Settings.from_environ({"HAVEN_DATABASE_URL": url})
    assert settings.database_url == url
    assert not settings.embedded_database


def test_oidc_settings_are_read() -> None:
    settings = Settings.from_environ(OIDC)
    assert settings.oidc_issuer == OIDC["HAVEN_OIDC_ISSUER"]
    assert settings.oidc_audience == OIDC["HAVEN_OIDC_AUDIENCE"]
    assert settings.oidc_jwks_url == OIDC["HAVEN_OIDC_JWKS_URL"]


@pytest.mark.parametrize(
    ("value", "organisations"),
    [
        ("org-a", {"org-a"}),
        ("org-a,org-b", {"org-a", "org-b"}),
        (" org-a , org-b ,org-c", {"org-a", "org-b", "org-c"}),
        ("org-a,org-a", {"org-a"}),
        ("   ", set()),
    ],
)
def test_team_access_is_read(value: str, organisations: set[str]) -> None:
    settings = Settings.from_environ({"HAVEN_TEAM_ACCESS": value})
    assert settings.team_access == frozenset(organisations)
    assert all(settings.team_access_for(org) for org in organisations)
    assert not settings.team_access_for("org-z")
    assert not settings.team_access_for("org")  # whole ids only, never a prefix or a substring


@pytest.mark.parametrize(("value", "minutes"), [("1", 1), ("30", 30), ("2.5", 2.5), ("1440", 1440)])
def test_console_idle_minutes_are_read(value: str, minutes: float) -> None:
    assert Settings.from_environ({"HAVEN_CONSOLE_IDLE_MINUTES": value}).console_idle_minutes == (
        minutes
    )


@pytest.mark.parametrize("value", ["0", "0.5", "1441", "-3", "nan", "inf", "fifteen"])
def test_bad_console_idle_minutes_are_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="HAVEN_CONSOLE_IDLE_MINUTES"):
        Settings.from_environ({"HAVEN_CONSOLE_IDLE_MINUTES": value})


@pytest.mark.parametrize("value", ["org-a,", ",org-a", "org-a,,org-b", "org-a,\torg\nb", "x" * 257])
def test_bad_team_access_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="HAVEN_TEAM_ACCESS"):
        Settings.from_environ({"HAVEN_TEAM_ACCESS": value})


def test_reads_os_environ_when_no_mapping_is_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HAVEN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HAVEN_DATABASE_URL", "postgresql://localhost/haven")
    monkeypatch.setenv("HAVEN_TEAM_ACCESS", "org-a,org-b")
    settings = Settings.from_environ()
    assert settings.data_dir == tmp_path
    assert settings.database_url == "postgresql://localhost/haven"
    assert settings.team_access == frozenset({"org-a", "org-b"})


@pytest.mark.parametrize("uri", ["s3://bucket/kek", "/srv/haven/kek", "FILE:/kek", "env:HAVEN_KEY"])
def test_bad_kek_scheme_is_refused(uri: str) -> None:
    with pytest.raises(SettingsError, match="HAVEN_KEK"):
        Settings.from_environ({"HAVEN_KEK": uri})


@pytest.mark.parametrize(
    "url", ["mysql://localhost/haven", "localhost:5432", "haven", "http://db/haven"]
)
def test_bad_database_url_is_refused(url: str) -> None:
    with pytest.raises(SettingsError, match="HAVEN_DATABASE_URL"):
        Settings.from_environ({"HAVEN_DATABASE_URL": url})


@pytest.mark.parametrize("missing", sorted(OIDC))
def test_partial_oidc_settings_are_refused(missing: str) -> None:
    partial = {name: value for name, value in OIDC.items() if name != missing}
    with pytest.raises(SettingsError, match="HAVEN_OIDC"):
        Settings.from_environ(partial)


@pytest.mark.parametrize("only", sorted(OIDC))
def test_a_single_oidc_setting_is_refused(only: str) -> None:
    with pytest.raises(SettingsError):
        Settings.from_environ({only: OIDC[only]})


def test_settings_are_frozen() -> None:
    settings = Settings.from_environ({"HAVEN_DATA_DIR": "/srv/haven"})
    with pytest.raises(AttributeError):
        settings.database_url = "postgresql://elsewhere/haven"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        settings.kek_uri = "file:/tmp/other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        settings.team_access = frozenset({"org-a"})  # type: ignore[misc]
    assert settings.database_url is None
    assert hash(settings) == hash(Settings.from_environ({"HAVEN_DATA_DIR": "/srv/haven"}))


def test_a_direct_url_takes_what_needs_a_session_and_marks_the_pool_as_pooled() -> None:
    pooled = "postgresql://haven@pgbouncer:6432/haven"
    direct = "postgresql://haven@db:5432/haven"
    settings = Settings.from_environ(
        {"HAVEN_DATABASE_URL": pooled, "HAVEN_DIRECT_DATABASE_URL": direct}
    )
    assert settings.transaction_pooled
    assert settings.session_url(pooled) == direct
    assert settings.reporting_url(pooled) == "postgresql://haven_reporting@db:5432/haven"
    alone = Settings.from_environ({"HAVEN_DATABASE_URL": direct})
    assert not alone.transaction_pooled
    assert alone.session_url(direct) == direct


@pytest.mark.parametrize(
    "environ",
    [
        {"HAVEN_DIRECT_DATABASE_URL": "postgresql://db/haven"},  # without HAVEN_DATABASE_URL
        {
            "HAVEN_DATABASE_URL": "postgresql://pgbouncer/haven",
            "HAVEN_DIRECT_DATABASE_URL": "mysql://db/haven",
        },
    ],
)
def test_a_direct_url_needs_a_database_url_and_a_postgresql_scheme(
    environ: dict[str, str],
) -> None:
    with pytest.raises(SettingsError, match="HAVEN_DIRECT_DATABASE_URL"):
        Settings.from_environ(environ)

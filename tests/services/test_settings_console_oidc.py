"""The console's client at the external identity provider: HAVEN_OIDC_CLIENT_ID,
HAVEN_OIDC_CLIENT_SECRET and HAVEN_CONSOLE_URL."""

from __future__ import annotations

import pytest

from services.settings import Settings, SettingsError

OIDC = {
    "HAVEN_OIDC_ISSUER": "https://id.example.test/realms/haven",
    "HAVEN_OIDC_AUDIENCE": "haven-api",
    "HAVEN_OIDC_JWKS_URL": "https://id.example.test/realms/haven/certs",
}
CLIENT = {"HAVEN_OIDC_CLIENT_ID": "haven-console", "HAVEN_CONSOLE_URL": "https://haven.example"}


def test_without_a_client_the_console_does_not_sign_in_at_the_provider() -> None:
    settings = Settings.from_environ(OIDC)
    assert not settings.console_oidc
    assert (settings.oidc_client_id, settings.oidc_client_secret, settings.console_url) == (
        None,
        None,
        None,
    )


def test_a_public_client_is_read() -> None:
    settings = Settings.from_environ({**OIDC, **CLIENT})
    assert settings.console_oidc
    assert settings.oidc_client_id == "haven-console"
    assert settings.oidc_client_secret is None
    assert settings.console_url == "https://haven.example"


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://haven.example/", "https://haven.example"),
        ("https://haven.example:8443", "https://haven.example:8443"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://localhost:8000/", "http://localhost:8000"),
    ],
)
def test_the_console_url_is_an_origin(url: str, origin: str) -> None:
    settings = Settings.from_environ({**OIDC, **CLIENT, "HAVEN_CONSOLE_URL": url})
    assert settings.console_url == origin


@pytest.mark.parametrize(
    "url",
    [
        "http://haven.example",
        "https://haven.example/console",
        "https://haven.example/?next=x",
        "https://user:pw@haven.example",
        "https://haven.example:99999",
        "ftp://haven.example",
        "haven.example",
    ],
)
def test_a_console_url_that_is_not_a_secure_origin_is_refused(url: str) -> None:
    with pytest.raises(SettingsError, match="HAVEN_CONSOLE_URL"):
        Settings.from_environ({**OIDC, **CLIENT, "HAVEN_CONSOLE_URL": url})


def test_a_confidential_clients_secret_is_read_and_never_shown() -> None:
    secret = "a-client-secret-of-the-console"
    settings = Settings.from_environ({**OIDC, **CLIENT, "HAVEN_OIDC_CLIENT_SECRET": secret})
    assert settings.oidc_client_secret == secret
    assert secret not in repr(settings) and secret not in str(settings)
    assert "oidc_client_secret='<secret>'" in repr(settings)
    assert "oidc_client_id='haven-console'" in repr(settings)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        (CLIENT, "HAVEN_OIDC_ISSUER"),  # a client of no provider
        ({**OIDC, "HAVEN_OIDC_CLIENT_ID": "haven-console"}, "HAVEN_CONSOLE_URL"),
        ({**OIDC, "HAVEN_OIDC_CLIENT_SECRET": "s"}, "HAVEN_OIDC_CLIENT_ID"),
        ({**OIDC, "HAVEN_CONSOLE_URL": "https://haven.example"}, "HAVEN_OIDC_CLIENT_ID"),
        ({**OIDC, **CLIENT, "HAVEN_OIDC_CLIENT_ID": "haven console"}, "HAVEN_OIDC_CLIENT_ID"),
        ({**OIDC, **CLIENT, "HAVEN_OIDC_CLIENT_SECRET": "s\n"}, "HAVEN_OIDC_CLIENT_SECRET"),
    ],
)
def test_an_incomplete_or_malformed_client_is_refused(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_environ(environ)


def test_empty_values_mean_no_client() -> None:
    empty = {name: "" for name in ("HAVEN_OIDC_CLIENT_ID", "HAVEN_OIDC_CLIENT_SECRET")}
    settings = Settings.from_environ({**OIDC, **empty, "HAVEN_CONSOLE_URL": ""})
    assert not settings.console_oidc

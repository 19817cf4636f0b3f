"""The console's sign-in at an external OpenID Connect provider (authorisation code + PKCE),
against a real provider over real HTTP (`tests.console.oidc_provider`); the browser is an
httpx client of the app that follows the provider's redirects itself."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import msgspec
import pytest
from litestar.stores.file import FileStore

from services.api.app import create_app
from services.console.oidc import Flow, OidcClient, SignInRefused, code_challenge
from services.console.sessions import COOKIE, Session
from services.identity import verifier_from_settings
from services.settings import Settings
from tests.api.conftest import api_client, log_lines, log_stream
from tests.console.oidc_provider import API_AUDIENCE, CLIENT_ID, OidcProvider
from tests.console.support import ConsoleUser

__all__ = ["log_stream"]

CONSOLE = "http://testserver"
CALLBACK = f"{CONSOLE}/console/sign-in/callback"
Browser = Callable[[], AbstractAsyncContextManager[ConsoleUser]]


@pytest.fixture
def idp() -> Iterator[OidcProvider]:
    with OidcProvider(redirect_uri=CALLBACK) as provider:
        yield provider


def settings_for(settings: Settings, idp: OidcProvider, **changes: Any) -> Settings:
    fields = {
        "oidc_issuer": idp.issuer,
        "oidc_audience": API_AUDIENCE,
        "oidc_jwks_url": idp.jwks_url,
        "oidc_client_id": CLIENT_ID,
        "console_url": CONSOLE,
    }
    return msgspec.structs.replace(settings, **(fields | changes))


def browser_for(runtime, settings: Settings, clock) -> Browser:
    app = create_app(
        runtime=runtime,
        verifier=verifier_from_settings(settings),
        settings=settings,
        console_clock=clock,
    )

    @contextlib.asynccontextmanager
    async def open_browser() -> AsyncIterator[ConsoleUser]:
        async with api_client(app, lifespan=False) as client:
            yield ConsoleUser(client)

    return open_browser


@pytest.fixture
def oidc_settings(settings: Settings, idp: OidcProvider) -> Settings:
    return settings_for(settings, idp)


@pytest.fixture
def browser(runtime, oidc_settings: Settings, clock) -> Browser:
    return browser_for(runtime, oidc_settings, clock)


async def start(user: ConsoleUser) -> str:
    """The console's sign-in begun: where it sends the browser (the provider)."""
    answer = await user.client.get("/console/sign-in/start")
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


async def at_provider(url: str) -> str:
    """The browser at the provider, over real HTTP: where the provider sends it back."""
    async with httpx.AsyncClient() as web:
        answer = await web.get(url)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


async def back_at_console(user: ConsoleUser, location: str) -> httpx.Response:
    assert location.startswith(CALLBACK + "?")
    parts = urlsplit(location)
    return await user.client.get(f"{parts.path}?{parts.query}")


async def sign_in(user: ConsoleUser) -> httpx.Response:
    return await back_at_console(user, await at_provider(await start(user)))


async def signed_in_as(user: ConsoleUser) -> str | None:
    """Whom the console shows as signed in (None: it sends the browser to sign in)."""
    answer = await user.client.get("/console/")
    if answer.status_code == 303:
        assert answer.headers["location"] == "/console/sign-in"
        return None
    assert answer.status_code == 200
    marker = "Signed in as "
    return answer.text[answer.text.index(marker) + len(marker) :].split(" ", 1)[0]


async def stored_session(settings: Settings, session_id: str) -> Session | None:
    raw = await FileStore(settings.data_dir / "console-sessions").get(
        hashlib.sha256(session_id.encode()).hexdigest()
    )
    return None if raw is None else msgspec.json.decode(raw, type=Session)


def refused_page(answer: httpx.Response) -> bool:
    return answer.status_code == 400 and "Sign-in was refused" in answer.text


async def test_signing_in_at_the_provider_shows_the_caseload_of_the_tokens_principal(
    browser, oidc_settings, idp
):
    async with browser() as user:
        page = await user.client.get("/console/sign-in")
        assert page.status_code == 200 and 'href="/console/sign-in/start"' in page.text
        assert 'name="account"' not in page.text
        authorize = await start(user)
        flow_cookie = user.client.cookies[COOKIE]
        flow = await stored_session(oidc_settings, flow_cookie)
        assert flow is not None and not flow.signed_in
        query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
        assert authorize.startswith(f"{idp.issuer}/authorize?")
        assert query == {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": CALLBACK,
            "scope": "openid",
            "state": flow.oidc_state,
            "nonce": flow.oidc_nonce,
            "code_challenge": code_challenge(flow.oidc_code_verifier),
            "code_challenge_method": "S256",
        }
        assert flow.oidc_code_verifier not in authorize

        answer = await back_at_console(user, await at_provider(authorize))
        assert answer.status_code == 200, answer.text
        assert answer.headers["refresh"] == "0; url=/console/"
        assert "samesite=strict" in answer.headers["set-cookie"].lower()
        caseload = await user.client.get("/console/")
        assert caseload.status_code == 200
        assert "Signed in as worker-sso-1 (caseworker)" in caseload.text
        assert "My caseload" in caseload.text
        session = await stored_session(oidc_settings, user.client.cookies[COOKIE])
        assert session is not None and session.principal().organisation_id == "org-harbor"
        assert (session.roles, session.team_id) == (("caseworker",), "team-north")
        assert not (session.oidc_state or session.oidc_nonce or session.oidc_code_verifier)
        case_id = await user.open_case("Client Of The Provider")  # a case worker's command
        assert (await user.client.get(f"/console/cases/{case_id}")).status_code == 200


async def test_the_flows_cookie_is_lax_so_the_providers_redirect_carries_it(browser):
    async with browser() as user:
        answer = await user.client.get("/console/sign-in/start")
        cookie = answer.headers["set-cookie"].lower()
        assert "samesite=lax" in cookie and "httponly" in cookie and "path=/console" in cookie


async def test_the_session_id_changes_at_sign_in(browser, oidc_settings):
    async with browser() as user:
        location = await at_provider(await start(user))
        before = user.client.cookies[COOKIE]
        assert (await back_at_console(user, location)).status_code == 200
        after = user.client.cookies[COOKIE]
        assert after != before
        assert await stored_session(oidc_settings, before) is None
        assert await signed_in_as(user) == "worker-sso-1"
    async with browser() as planted:  # the flow's id, planted in a browser, signs in nobody
        planted.client.cookies.set(COOKIE, before, path="/console")
        assert await signed_in_as(planted) is None


async def test_a_callback_without_this_browsers_state_is_refused(browser, log_stream):
    async with browser() as attacker, browser() as victim:
        # the attacker's own code and state, sent to a victim's browser (login CSRF)
        forged = await at_provider(await start(attacker))
        answer = await back_at_console(victim, forged)
        assert refused_page(answer)
        assert await signed_in_as(victim) is None
        # the victim's own flow under way: the attacker's state is still not its state
        await start(victim)
        assert refused_page(await back_at_console(victim, forged))
        assert await signed_in_as(victim) is None
        # control: the same answer in the browser that began that flow signs in
        assert (await back_at_console(attacker, forged)).status_code == 200
        assert await signed_in_as(attacker) == "worker-sso-1"
    codes = [line.get("error_code") for line in log_lines(log_stream)]
    assert codes.count("sign-in-state-mismatch") == 2
    code = parse_qs(urlsplit(forged).query)["code"][0]
    assert code not in log_stream.getvalue()


async def test_a_callback_without_a_state_is_refused(browser):
    async with browser() as user:
        location = await at_provider(await start(user))
        without_state = location.split("&state=")[0]
        assert "state=" not in without_state
        assert refused_page(await back_at_console(user, without_state))
        assert await signed_in_as(user) is None
    async with browser() as control:
        assert (await sign_in(control)).status_code == 200
        assert await signed_in_as(control) == "worker-sso-1"


async def test_a_replayed_callback_is_refused(browser):
    async with browser() as user:
        location = await at_provider(await start(user))
        flow_cookie = user.client.cookies[COOKIE]
        assert (await back_at_console(user, location)).status_code == 200  # control
    async with browser() as replay:  # the same cookie and answer, a second time
        replay.client.cookies.set(COOKIE, flow_cookie, path="/console")
        assert refused_page(await back_at_console(replay, location))
        assert await signed_in_as(replay) is None


async def test_a_refused_callback_spends_the_flow_too(browser):
    async with browser() as user:
        location = await at_provider(await start(user))
        assert refused_page(await back_at_console(user, location.replace("state=", "state=x")))
        assert refused_page(await back_at_console(user, location))  # its state is gone
        assert await signed_in_as(user) is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({}, None),  # control
        ({"nonce": "a-nonce-of-another-attempt"}, "id-token-nonce-mismatch"),
        ({"nonce": None}, "id-token-nonce-mismatch"),
        ({"aud": "another-client"}, "id-token-wrong-audience"),
        ({"aud": [CLIENT_ID, "another-client"]}, "id-token-wrong-audience"),  # no azp
        ({"iss": "http://127.0.0.1:9/other"}, "id-token-wrong-issuer"),
        ({"exp": 1_000_000_000, "iat": 999_999_000}, "id-token-expired"),
        ({"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"}, "id-token-at-hash-mismatch"),
    ],
)
async def test_an_id_token_that_is_not_for_this_flow_is_refused(
    browser, idp, log_stream, changes, reason
):
    idp.id_token_changes = changes
    async with browser() as user:
        answer = await sign_in(user)
        if reason is None:
            assert answer.status_code == 200
            assert await signed_in_as(user) == "worker-sso-1"
            return
        assert refused_page(answer)
        assert await signed_in_as(user) is None
    assert f"sign-in-{reason}" in [line.get("error_code") for line in log_lines(log_stream)]


async def test_an_access_token_the_api_would_refuse_signs_in_nobody(browser, idp, log_stream):
    idp.user = {**idp.user, "roles": ["an-unknown-role"]}
    async with browser() as user:
        assert refused_page(await sign_in(user))
        assert await signed_in_as(user) is None
    assert "sign-in-access-token-missing-claims" in [
        line.get("error_code") for line in log_lines(log_stream)
    ]


async def test_the_code_exchanged_without_the_right_code_verifier_fails(idp):
    client = OidcClient(issuer=idp.issuer, client_id=CLIENT_ID, redirect_uri=CALLBACK)
    provider = await client.provider()

    async def code_for(flow: Flow) -> str:
        location = await at_provider(client.authorization_url(provider, flow))
        return parse_qs(urlsplit(location).query)["code"][0]

    flow = Flow.new()
    with pytest.raises(SignInRefused) as refused:
        await client.exchange(provider, await code_for(flow), Flow.new().code_verifier)
    assert refused.value.reason == "token-exchange-refused"
    with pytest.raises(SignInRefused):
        await client.exchange(provider, await code_for(flow), "")
    flow = Flow.new()  # control: the flow's own verifier
    tokens = await client.exchange(provider, await code_for(flow), flow.code_verifier)
    claims = await client.check_id_token(tokens.id_token, flow.nonce, tokens.access_token)
    assert claims["sub"] == "worker-sso-1"


async def test_a_discovery_document_naming_another_issuer_is_refused(
    runtime, settings, idp, clock, log_stream
):
    control = OidcClient(issuer=idp.issuer, client_id=CLIENT_ID, redirect_uri=CALLBACK)
    assert (await control.provider()).token_endpoint == f"{idp.issuer}/token"
    idp.discovery_changes = {"issuer": "https://idp.attacker.example"}
    impostor = OidcClient(issuer=idp.issuer, client_id=CLIENT_ID, redirect_uri=CALLBACK)
    with pytest.raises(SignInRefused) as refused:
        await impostor.provider()
    assert refused.value.reason == "discovery-issuer-mismatch"
    async with browser_for(runtime, settings_for(settings, idp), clock)() as user:
        answer = await user.client.get("/console/sign-in/start")
        assert refused_page(answer) and "location" not in answer.headers
    assert "sign-in-discovery-issuer-mismatch" in [
        line.get("error_code") for line in log_lines(log_stream)
    ]


async def test_a_provider_without_s256_is_refused(idp):
    idp.discovery_changes = {"code_challenge_methods_supported": ["plain"]}
    client = OidcClient(issuer=idp.issuer, client_id=CLIENT_ID, redirect_uri=CALLBACK)
    with pytest.raises(SignInRefused) as refused:
        await client.provider()
    assert refused.value.reason == "discovery-no-pkce"


async def test_the_providers_error_is_shown_as_plain_text(browser, idp):
    idp.deny = "access_denied"
    async with browser() as user:
        answer = await sign_in(user)
        assert answer.status_code == 400 and "access_denied" in answer.text
        assert await signed_in_as(user) is None
    idp.deny = '<script>alert("x")</script>'
    async with browser() as user:
        answer = await sign_in(user)
        assert answer.status_code == 400 and "<script>" not in answer.text
        assert "alert(" not in answer.text and "(its answer: ?)" in answer.text
        assert await signed_in_as(user) is None


async def test_an_unreachable_provider_is_a_page_that_says_so(runtime, settings, clock, idp):
    with OidcProvider(redirect_uri=CALLBACK) as gone:
        unreachable = settings_for(settings, idp, oidc_issuer=gone.issuer)
    async with browser_for(runtime, unreachable, clock)() as user:
        answer = await user.client.get("/console/sign-in/start")
        assert answer.status_code == 503 and "cannot be reached" in answer.text


async def test_a_confidential_client_authenticates_with_client_secret_basic(
    runtime, settings, clock, log_stream
):
    secret = "s3cret: with/odd+characters"
    with OidcProvider(redirect_uri=CALLBACK, client_secret=secret) as idp:
        confidential = settings_for(settings, idp, oidc_client_secret=secret)
        async with browser_for(runtime, confidential, clock)() as user:
            assert (await sign_in(user)).status_code == 200
            assert await signed_in_as(user) == "worker-sso-1"
        request = idp.token_requests[-1]
        assert request["authorization"].startswith("Basic ")
        assert "client_secret" not in request["fields"]
        wrong = settings_for(settings, idp, oidc_client_secret="not-the-secret")
        async with browser_for(runtime, wrong, clock)() as user:
            assert refused_page(await sign_in(user))
    assert secret not in log_stream.getvalue() and secret not in repr(confidential)


async def test_the_persons_saved_language_applies_at_sign_in(browser):
    async with browser() as user:
        await sign_in(user)
        page = await user.client.get("/console/")
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        chosen = await user.client.post(
            "/console/language", data={"csrf_token": csrf, "language": "es", "next": "/console/"}
        )
        assert chosen.status_code == 303
    async with browser() as again:
        await sign_in(again)
        assert '<html lang="es">' in (await again.client.get("/console/")).text

"""Signing in to the console and out of it.

With the local issuer (no external identity provider), the sign-in page lists the synthetic
demo people and signs in as the one chosen, through a token of the local issuer verified by
the API's verifier. With an external provider and a console client
(`Settings.console_oidc`), it offers the provider's sign-in: `/sign-in/start` begins the
authorisation code flow with PKCE (`services.console.oidc`) in a new anonymous session, and
`/sign-in/callback` finishes it. The callback ends that session first, whatever follows, so
its state, nonce and code verifier serve once; it refuses a state that is not the session's
(compared in constant time), checks the ID token, and takes the person from the access
token, verified by the API's own verifier. Signing in replaces the session with a new one
(a new id), in the person's saved language. A refusal is logged with its reason code only.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import re
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from services.console import i18n
from services.console.i18n import N_
from services.console.oidc import (
    Flow,
    OidcClient,
    ProviderUnavailable,
    SignInRefused,
)
from services.console.sessions import CSRF_FIELD, Session, clear_cookie, csrf_valid, set_cookie
from services.console.web import PREFIX, Console, CsrfRefused, page, posted
from services.demo.organisations import DEFAULT_ORGANISATIONS, demo_accounts
from services.identity import InvalidToken, LocalIssuer
from services.observability.logging import get_logger
from services.settings import Settings

SIGN_IN_TTL = dt.timedelta(minutes=1)  # the token lives only to be verified into a session
CALLBACK_PATH = f"{PREFIX}/sign-in/callback"
REFUSED = N_("Sign-in was refused. Nothing was signed in; please start again.")
UNAVAILABLE = N_("Your organisation's identity provider cannot be reached. Please try later.")
# RFC 6749 §4.1.2.1: an error code is ASCII without quotes or backslashes; shown only if so
_ERROR_CODE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


def sign_in_accounts() -> list[tuple[str, str, str, str | None]]:
    """(organisation, role, user, team) of the demo people one may sign in as: the case
    workers and supervisors, then the privacy officers, then the reporters, then the outreach
    staff (each listed after the others, so those keep their places)."""
    return [
        (org, role, user, team)
        for roles in (
            ("caseworker", "supervisor"),
            ("privacy_officer",),
            ("reporter",),
            ("outreach",),
        )
        for org in DEFAULT_ORGANISATIONS[:2]
        for role, user, team in demo_accounts(org)
        if role in roles
    ]


@functools.lru_cache(maxsize=8)
def oidc_client(settings: Settings) -> OidcClient:
    """The console's client of the identity provider (one per settings: discovery and keys
    are kept in it)."""
    assert settings.oidc_issuer and settings.oidc_client_id and settings.console_url
    return OidcClient(
        issuer=settings.oidc_issuer,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        redirect_uri=settings.console_url + CALLBACK_PATH,
    )


async def _language(request: Request[Any, Any, Any], console: Console) -> str:
    found = await console.sessions.current(request)
    if found is not None:
        return found[1].language
    return i18n.from_accept_language(request.headers.get("accept-language"))


def _mode(console: Console) -> str:
    if console.signs_in:
        return "local"
    return "oidc" if console.settings.console_oidc else "api"


@get("/sign-in")
async def sign_in_form(request: Request[Any, Any, Any], console: NamedDependency[Console]) -> Any:
    if not console.signs_in:
        language = await _language(request, console)
        return page("sign_in.html", None, mode=_mode(console), language=language)
    session_id, session = await console.sessions.start(None, await _language(request, console))
    response = page("sign_in.html", session, mode="local", accounts=sign_in_accounts())
    set_cookie(request, response, session_id)
    return response


@post("/sign-in", status_code=303)
async def sign_in(request: Request[Any, Any, Any], console: NamedDependency[Console]) -> Any:
    form = await request.form()
    found = await console.sessions.current(request)
    if found is None or not csrf_valid(found[1], form.get(CSRF_FIELD)) or not console.signs_in:
        raise CsrfRefused()
    accounts = sign_in_accounts()
    chosen = form.get("account", "")
    if not (isinstance(chosen, str) and chosen.isdigit() and int(chosen) < len(accounts)):
        error = N_("Choose whom to sign in as.")
        return page("sign_in.html", found[1], 422, mode="local", accounts=accounts, error=error)
    org, role, user, team = accounts[int(chosen)]
    issuer = LocalIssuer.open(console.settings.data_dir)
    principal = await console.verifier.verify(issuer.mint(user, org, [role], team, ttl=SIGN_IN_TTL))
    await console.sessions.end(found[0])
    await console.sessions.forget_expired()
    language = await console.preferences.language(principal) or found[1].language
    session_id, _ = await console.sessions.start(principal, language)
    response = Redirect(f"{PREFIX}/", status_code=303)
    set_cookie(request, response, session_id)
    return response


@get("/sign-in/start")
async def sign_in_start(request: Request[Any, Any, Any], console: NamedDependency[Console]) -> Any:
    """A new anonymous session holding a new flow, and the browser sent to the provider."""
    if not console.settings.console_oidc:
        return Redirect(f"{PREFIX}/sign-in", status_code=303)
    language = await _language(request, console)
    client = oidc_client(console.settings)
    try:
        provider = await client.provider()
    except SignInRefused as refused:
        return _refused(request, refused, language)
    found = await console.sessions.current(request)
    if found is not None:
        await console.sessions.end(found[0])
    await console.sessions.forget_expired()
    flow = Flow.new()
    session_id, _ = await console.sessions.start(
        None,
        language,
        oidc_state=flow.state,
        oidc_nonce=flow.nonce,
        oidc_code_verifier=flow.code_verifier,
    )
    response = Redirect(client.authorization_url(provider, flow), status_code=303)
    set_cookie(request, response, session_id, samesite="lax")  # the callback comes cross-site
    return response


@get("/sign-in/callback")
async def sign_in_callback(
    request: Request[Any, Any, Any], console: NamedDependency[Console]
) -> Any:
    """The provider's answer: a code to exchange for this browser's flow, or an error."""
    if not console.settings.console_oidc:
        return Redirect(f"{PREFIX}/sign-in", status_code=303)
    found = await console.sessions.current(request)
    flow = found[1] if found is not None and found[1].oidc_state else None
    if found is not None and flow is not None:
        await console.sessions.end(found[0])  # single use, whatever the outcome
    language = flow.language if flow is not None else await _language(request, console)
    states = request.query_params.getall("state", [])
    if (
        flow is None
        or len(states) != 1
        or not hmac.compare_digest(flow.oidc_state.encode(), states[0].encode("utf-8", "replace"))
    ):
        return _refused(request, SignInRefused("state-mismatch"), language)
    error = request.query_params.get("error")
    if error is not None:
        _log_refusal("provider-error")
        code = error if _ERROR_CODE.fullmatch(error) else "?"
        return _sign_in_page(request, language, 400, provider_error=code)
    codes = request.query_params.getall("code", [])
    if len(codes) != 1 or not codes[0] or len(codes[0]) > 4096:
        return _refused(request, SignInRefused("code-missing"), language)
    try:
        session_id, session = await _sign_in_at_provider(console, flow, codes[0])
    except SignInRefused as refused:
        return _refused(request, refused, language)
    response = page("signed_in.html", session)
    # A navigation the provider started carries no SameSite=Strict cookie, nor do its
    # redirects: the browser goes on from this page, which makes the next request same-site.
    response.headers["refresh"] = f"0; url={PREFIX}/"
    set_cookie(request, response, session_id)
    return response


async def _sign_in_at_provider(console: Console, flow: Session, code: str) -> tuple[str, Session]:
    """The code exchanged and both tokens checked: the new signed-in session."""
    client = oidc_client(console.settings)
    provider = await client.provider()
    tokens = await client.exchange(provider, code, flow.oidc_code_verifier)
    claims = await client.check_id_token(tokens.id_token, flow.oidc_nonce, tokens.access_token)
    try:
        principal = await console.verifier.verify(tokens.access_token)
    except InvalidToken as invalid:
        if invalid.reason == "keys-unavailable":
            raise ProviderUnavailable("access-token-keys-unavailable") from None
        raise SignInRefused(f"access-token-{invalid.reason}") from None
    if principal.user_id != claims["sub"]:
        raise SignInRefused("subject-mismatch")
    await console.sessions.forget_expired()
    language = await console.preferences.language(principal) or flow.language
    return await console.sessions.start(principal, language)


def _log_refusal(reason: str) -> None:
    get_logger("console").info("sign-in refused", error_code=f"sign-in-{reason}")


def _refused(request: Request[Any, Any, Any], refused: SignInRefused, language: str) -> Template:
    _log_refusal(refused.reason)
    if isinstance(refused, ProviderUnavailable):
        return _sign_in_page(request, language, 503, refused=UNAVAILABLE)
    return _sign_in_page(request, language, 400, refused=REFUSED)


def _sign_in_page(
    request: Request[Any, Any, Any], language: str, status: int, **context: Any
) -> Template:
    response = page("sign_in.html", None, status, mode="oidc", language=language, **context)
    if request.url.path == CALLBACK_PATH:  # the flow's session has ended: so does its cookie
        clear_cookie(request, response)
    return response


@post("/sign-out", status_code=303)
async def sign_out(request: Request[Any, Any, Any], console: NamedDependency[Console]) -> Any:
    signed, _ = await posted(request, console)
    await console.sessions.end(signed.session_id)
    response = Redirect(f"{PREFIX}/sign-in", status_code=303)
    clear_cookie(request, response)
    return response


SIGN_IN_PAGES = [sign_in_form, sign_in, sign_in_start, sign_in_callback, sign_out]

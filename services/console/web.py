"""The console's plumbing: its state, the security headers of every response, signing in
checks, and error pages that name no case content and carry no stack trace."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, NamedTuple

from litestar import Request, Response
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Template

from services.api import observe
from services.api.auth import Verifier
from services.api.problems import INTERNAL_ERROR, RETRY_AFTER_SECONDS, problem_type_for
from services.authorisation import Forbidden, NotFound
from services.commands import case_reads
from services.console.forms import label
from services.console.i18n import LANGUAGES, N_, from_accept_language
from services.console.preferences import Preferences
from services.console.sessions import CSRF_FIELD, Session, Sessions, csrf_valid
from services.observability.logging import get_logger
from services.settings import Settings

PREFIX = "/console"
SECURITY_HEADERS = (
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; "
        b"form-action 'self'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
_REPLACED = frozenset(name for name, _ in SECURITY_HEADERS)

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def is_console(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def with_security_headers(send: Send) -> Send:
    """`send`, with the console's headers on the response's start, whatever answered."""

    async def sending(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _REPLACED]
            message["headers"] = [*headers, *SECURITY_HEADERS]
        await send(message)

    return sending


class Console(NamedTuple):
    sessions: Sessions
    preferences: Preferences
    verifier: Verifier
    settings: Settings

    @property
    def signs_in(self) -> bool:
        """Whether the local issuer's sign-in page is offered (no external provider)."""
        return self.settings.oidc_issuer is None


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page."""


class CsrfRefused(Exception):
    """A form without its session's CSRF token."""


class SignedIn(NamedTuple):
    session_id: str
    session: Session


async def signed_in(request: Request[Any, Any, Any], console: Console) -> SignedIn:
    """The request's signed-in session, marked as used at this moment; else `SignInRequired`."""
    found = await console.sessions.current(request)
    if found is None or not found[1].signed_in:
        raise SignInRequired()
    session_id, session = found
    request.state.language = session.language
    return SignedIn(session_id, await console.sessions.touch(session_id, session))


async def posted(
    request: Request[Any, Any, Any], console: Console
) -> tuple[SignedIn, dict[str, str]]:
    """A signed-in form post, its CSRF token checked, and its fields."""
    form = await request.form()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    found = await console.sessions.current(request)
    if found is None or not csrf_valid(found[1], fields.get(CSRF_FIELD)):
        raise CsrfRefused()
    if not found[1].signed_in:
        raise SignInRequired()
    session_id, session = found
    request.state.language = session.language
    return SignedIn(session_id, await console.sessions.touch(session_id, session)), fields


def reader(
    request: Request[Any, Any, Any], signed: SignedIn, console: Console
) -> case_reads.Reader:
    """The signed-in person as the read use case's reader of this request."""
    principal = signed.session.principal()
    return case_reads.Reader(
        principal,
        observe.request_id(request.scope),
        console.settings.team_access_for(principal.organisation_id),
    )


def page(
    name: str,
    session: Session | None,
    status: int = 200,
    *,
    language: str | None = None,
    **context: Any,
) -> Template:
    """A page in the session's language (`language` for a page without a session)."""
    return Template(
        template_name=name,
        context={
            "session": session,
            "language": session.language if session is not None else language,
            "languages": LANGUAGES,
            "csrf_field": CSRF_FIELD,
            "label": label,
            **context,
        },
        status_code=status,
        media_type="text/html",
    )


def console_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The console's one exception handler: a plain page, never the error's text."""
    if isinstance(exc, SignInRequired):
        return Redirect(f"{PREFIX}/sign-in", status_code=303)
    language = getattr(request.state, "language", None) or from_accept_language(
        request.headers.get("accept-language")
    )
    if isinstance(exc, CsrfRefused):
        get_logger("console").info("form refused", error_code="csrf-token-invalid")
        return error_page(403, N_("This form has expired"), language, retry=True)
    if isinstance(exc, NotFound | Forbidden | NotFoundException):  # nothing to learn
        get_logger("console").info("request refused", error_code=type(exc).__name__)
        return error_page(404, N_("Nothing here that you may see"), language)
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and status < 500:  # litestar's own (405, 413...)
        return error_page(status, N_("This request cannot be answered"), language)
    kind = problem_type_for(exc)
    if kind is INTERNAL_ERROR or kind.status >= 500:
        get_logger("console").error(
            "request failed", error_code=kind.slug, exc_type=type(exc).__name__
        )
    if kind.status == 503:  # the database away, or the key provider: worth trying again
        unavailable = page(
            "error.html",
            None,
            503,
            language=language,
            title=N_("The console cannot answer just now"),
            unavailable=True,
        )
        unavailable.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return unavailable
    if kind.status >= 500:
        return error_page(kind.status, N_("The console cannot answer just now"), language)
    return error_page(kind.status, N_("This request cannot be answered"), language)


def error_page(status: int, title: str, language: str, retry: bool = False) -> Template:
    return page("error.html", None, status, language=language, title=title, retry=retry)

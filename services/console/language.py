"""Choosing the console's language: `POST /console/language`, from the form every page
carries. The choice holds for the session and, once signed in, for the person's next sign-in
(`services.console.preferences`)."""

from __future__ import annotations

from typing import Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.response import Redirect

from services.console.i18n import LANGUAGES
from services.console.sessions import CSRF_FIELD, csrf_valid
from services.console.web import PREFIX, Console, CsrfRefused


def back_to(path: object) -> str:
    """Where the form was: a console path of this server, else the console's home."""
    if (
        isinstance(path, str)
        and path.startswith(PREFIX + "/")
        and not path.startswith(PREFIX + "//")
        and "\\" not in path
        and len(path) <= 300
        and path.isprintable()
    ):
        return path
    return PREFIX + "/"


@post("/language", status_code=303)
async def choose_language(
    request: Request[Any, Any, Any], console: NamedDependency[Console]
) -> Redirect:
    form = await request.form()
    found = await console.sessions.current(request)
    if found is None or not csrf_valid(found[1], form.get(CSRF_FIELD)):
        raise CsrfRefused()
    session_id, session = found
    language = form.get("language")
    if isinstance(language, str) and language in LANGUAGES:
        await console.sessions.change(session_id, session, language=language)
        if session.signed_in:
            await console.preferences.set_language(session.principal(), language)
    return Redirect(back_to(form.get("next")), status_code=303)


LANGUAGE_PAGES = [choose_language]

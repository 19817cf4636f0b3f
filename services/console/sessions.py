"""Signed-in browser sessions of the console, kept on the server.

The cookie carries only a random session id (256 bits); the store keys the session by the
id's SHA-256, so a listing of the store names no cookie. A session holds who signed in (the
`Principal` the local issuer's token verified into), its CSRF token, and when it was last
used: unused for the idle timeout (`HAVEN_CONSOLE_IDLE_MINUTES`) or older than
`MAX_SESSION_SECONDS`, it is gone. Signing in replaces the session (a new id), signing out
deletes it. The cookie is `HttpOnly`, `SameSite=Strict`, scoped to `/console`, and `Secure`
when the request came over TLS.

A sign-in at the external identity provider (`services.console.sign_in`) holds its flow's
secrets (state, nonce, PKCE code verifier) in an anonymous session of its own, which its
callback ends whatever the outcome, so each is used once. That session's cookie is
`SameSite=Lax`: the provider sends the browser back with a cross-site navigation, which
carries no `Strict` cookie.

The store is litestar's file store under the data directory, shared by every worker process
of one server. Nothing in a session is case content.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import msgspec
from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.stores.base import Store
from litestar.stores.file import FileStore

from services.identity import Principal

COOKIE = "haven_console"
COOKIE_PATH = "/console"
MAX_SESSION_SECONDS = 8 * 3600
CSRF_FIELD = "csrf_token"
Clock = Callable[[], float]


class Session(msgspec.Struct, frozen=True, kw_only=True):
    csrf: str
    started: float
    seen: float
    user_id: str | None = None  # None: not signed in (the sign-in form's own session)
    organisation_id: str = ""
    roles: tuple[str, ...] = ()
    team_id: str = ""
    language: str = "en"  # services.console.i18n.LANGUAGES
    # a sign-in at the external identity provider under way (`services.console.oidc.Flow`)
    oidc_state: str = ""
    oidc_nonce: str = ""
    oidc_code_verifier: str = ""

    @property
    def signed_in(self) -> bool:
        return self.user_id is not None

    def principal(self) -> Principal:
        assert self.user_id is not None
        return Principal(
            user_id=self.user_id,
            organisation_id=self.organisation_id,
            roles=frozenset(self.roles),
            team_id=self.team_id,
            token_id=None,
            expires_at=dt.datetime.fromtimestamp(self.started + MAX_SESSION_SECONDS, dt.UTC),
        )


def file_store(data_dir: Path) -> Store:
    """The sessions' store: a directory of the data directory, readable by its owner only."""
    path = data_dir / "console-sessions"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return FileStore(path)


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class Sessions:
    def __init__(self, store: Store, idle_seconds: float, clock: Clock = time.time) -> None:
        self._store = store
        self.idle_seconds = idle_seconds
        self._clock = clock

    async def current(self, request: Request) -> tuple[str, Session] | None:
        """The request's live session and its id; an idle or too old one is deleted."""
        session_id = request.cookies.get(COOKIE)
        if not session_id or len(session_id) > 100:
            return None
        raw = await self._store.get(_key(session_id))
        if raw is None:
            return None
        try:
            session = msgspec.json.decode(raw, type=Session)
        except msgspec.DecodeError:
            session = None
        now = self._clock()
        if (
            session is None
            or now - session.seen > self.idle_seconds
            or now - session.started > MAX_SESSION_SECONDS
        ):
            await self._store.delete(_key(session_id))
            return None
        return session_id, session

    async def touch(self, session_id: str, session: Session) -> Session:
        """The session, marked as used at this moment (the idle timeout starts again)."""
        return await self.change(session_id, session)

    async def start(
        self, principal: Principal | None, language: str = "en", **flow: str
    ) -> tuple[str, Session]:
        """A new session (a new id and CSRF token) in `language`: anonymous for the sign-in
        form (`flow`: the `oidc_*` fields of a sign-in at the identity provider), or signed
        in as `principal`."""
        now = self._clock()
        fields: dict[str, object] = {"language": language, **flow}
        if principal is not None:
            fields |= {
                "user_id": principal.user_id,
                "organisation_id": principal.organisation_id,
                "roles": tuple(sorted(principal.roles)),
                "team_id": principal.team_id,
            }
        session = Session(csrf=secrets.token_urlsafe(32), started=now, seen=now, **fields)
        session_id = secrets.token_urlsafe(32)
        await self._save(session_id, session)
        return session_id, session

    async def change(self, session_id: str, session: Session, **fields: object) -> Session:
        changed = msgspec.structs.replace(session, seen=self._clock(), **fields)
        await self._save(session_id, changed)
        return changed

    async def end(self, session_id: str) -> None:
        await self._store.delete(_key(session_id))

    async def forget_expired(self) -> None:
        """Remove the sessions the store holds past their expiry (nobody came back for them)."""
        delete_expired = getattr(self._store, "delete_expired", None)
        if delete_expired is not None:
            await delete_expired()

    async def _save(self, session_id: str, session: Session) -> None:
        # The store's own expiry (by the wall clock) only clears what nobody comes back for;
        # the checks in `current` decide, by the session's clock.
        await self._store.set(
            _key(session_id),
            msgspec.json.encode(session),
            expires_in=math.ceil(self.idle_seconds) + 60,
        )


def csrf_valid(session: Session | None, submitted: object) -> bool:
    """Whether a form's CSRF token is its session's (synchronizer token, constant time)."""
    return (
        session is not None
        and isinstance(submitted, str)
        and hmac.compare_digest(session.csrf.encode(), submitted.encode())
    )


def set_cookie(
    request: Request,
    response: Response,
    session_id: str,
    samesite: Literal["strict", "lax"] = "strict",
) -> None:
    response.set_cookie(
        Cookie(
            key=COOKIE,
            value=session_id,
            path=COOKIE_PATH,
            httponly=True,
            samesite=samesite,
            secure=request.url.scheme == "https",
        )
    )


def clear_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH)

"""What each person chose for the console (their language), kept across sign-ins.

Kept in litestar's file store under the data directory, keyed by the SHA-256 of the
organisation and user id: a listing of the store names nobody. Nothing here is case content.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from litestar.stores.base import Store
from litestar.stores.file import FileStore

from services.console.i18n import LANGUAGES
from services.identity import Principal


def preferences_store(data_dir: Path) -> Store:
    path = data_dir / "console-preferences"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return FileStore(path)


def _key(principal: Principal, name: str) -> str:
    person = f"{principal.organisation_id}\0{principal.user_id}\0{name}"
    return hashlib.sha256(person.encode()).hexdigest()


class Preferences:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def language(self, principal: Principal) -> str | None:
        raw = await self._store.get(_key(principal, "language"))
        language = raw.decode() if raw is not None else None
        return language if language in LANGUAGES else None

    async def set_language(self, principal: Principal, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError("not a language of the console")
        await self._store.set(_key(principal, "language"), language.encode())

"""The ASGI entry point for a server: `granian --interface asgi --factory services.api.asgi:build`.

`build()` is the composition root of a server worker: it reads `Settings` from the
environment, configures logging and the token verifier, and returns an ASGI app whose
*lifespan* owns the runtime: on the server's `lifespan.startup` it migrates the database and
opens the pool and the key provider (`bootstrap.runtime`), erases again every case on the
erasure list the database still holds (`services.restore_check`: a restored database), refuses
to start when the key material does not unwrap the database's data keys
(`events.key_check`, `KeyMaterialMismatch`), starts the projectors in the
background (`services.projection_service`: with several workers, one leads each projection
and the others stand by), builds the litestar app around
them (`app.create_app`) and enters that app's own lifespan; on `lifespan.shutdown` it closes
them in reverse order. Once started it freezes the start-up heap (`freeze_start_up_heap`); on
shutdown it hands it back. A failure at start-up answers `lifespan.startup.failed` with the
exception's class name only (a message could name a path or a URL with a password).

`HAVEN_DATABASE_URL` is required here: each worker process runs `build()`, and an embedded
PostgreSQL must be started once, by the parent (`haven serve`), which then hands its URL to
the workers through that variable.
"""

from __future__ import annotations

import contextlib
import gc
from typing import Any

from litestar import Litestar

from events.key_check import KeyMaterialMismatch, refuse_mismatched
from services.api.app import create_app
from services.api.auth import Verifier
from services.bootstrap import runtime
from services.identity import verifier_from_settings
from services.observability.logging import configure_logging, get_logger
from services.projection_service import projectors_in_background
from services.restore_check import check_erasures
from services.settings import Settings, SettingsError


def freeze_start_up_heap() -> None:
    """Put what start-up left alive (modules, classes, the app and its routes, the runtime)
    out of the cyclic garbage collector's reach (`gc.freeze`), after collecting what is
    already garbage: otherwise every full collection walks that whole heap again, though none
    of it ever becomes garbage, and holds every request meanwhile (the pause it saves is in
    docs/benchmarks.md). Frozen objects are still freed by reference counting when dropped;
    only a cycle among them would stay until shutdown (`gc.unfreeze`)."""
    gc.collect()
    gc.freeze()


def build() -> ServedApp:
    settings = Settings.from_environ()
    if settings.database_url is None:
        raise SettingsError(
            "the API server needs HAVEN_DATABASE_URL "
            "(haven serve sets it for the embedded database)"
        )
    configure_logging()
    return ServedApp(settings, verifier_from_settings(settings))


class ServedApp:
    """An ASGI app that opens the runtime in its lifespan, then serves the litestar app."""

    def __init__(self, settings: Settings, verifier: Verifier) -> None:
        self._settings = settings
        self._verifier = verifier
        self._app: Litestar | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if self._app is None:  # a server sends no request before start-up completes
            raise RuntimeError("the app is not started")
        await self._app(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        async with contextlib.AsyncExitStack() as stack:
            message = await receive()
            if message["type"] != "lifespan.startup":
                return
            try:
                assert self._settings.database_url is not None  # checked by build()
                rt = await stack.enter_async_context(
                    runtime(self._settings, self._settings.database_url)
                )
                checked = await check_erasures(rt)  # a restored database: corrected first
                if checked.erased_again:
                    get_logger("api").warning(
                        "restore check erased listed cases again", count=len(checked.erased_again)
                    )
                refuse_mismatched(rt.key_mismatches)
                await stack.enter_async_context(
                    projectors_in_background(rt, self._settings.database_url)
                )
                app = create_app(runtime=rt, verifier=self._verifier, settings=self._settings)
                await stack.enter_async_context(app.lifespan())
            except Exception as error:  # noqa: BLE001 (reported to the server, by class name only)
                named = {"error_code": error.code} if isinstance(error, KeyMaterialMismatch) else {}
                get_logger("api").error("start-up failed", exc_type=type(error).__name__, **named)
                await send({"type": "lifespan.startup.failed", "message": type(error).__name__})
                return
            self._app = app
            freeze_start_up_heap()
            get_logger("api").info("api started")
            await send({"type": "lifespan.startup.complete"})
            while (await receive())["type"] != "lifespan.shutdown":
                pass
            self._app = None
            gc.unfreeze()
        get_logger("api").info("api stopped")
        await send({"type": "lifespan.shutdown.complete"})

"""The app factory: `create_app(runtime=..., verifier=..., settings=...) -> Litestar`.

The factory takes dependencies that are already built (the composition root, `asgi.build`,
opens them in the server's lifespan; tests build them against the test database) and builds
nothing that touches the outside world itself.

Layers of one request, outermost first:

1. `HavenApp.__call__`: under `/console` the console's security headers
   (`services.console.web`); `admission`: a request beyond the worker's places is answered
   503 `overloaded` here, at once, counted in `haven_http_requests_shed_total` and not logged
   one line each (shedding must cost next to nothing); then `observe.observed`: request id,
   `X-Request-ID`, log context, one log line, metrics, for every other HTTP response,
   including those of unknown paths;
2. litestar's router, then per route `BearerAuthenticationMiddleware` (`auth`);
3. the handler; any exception goes to `errors.handle_exception`, the one error mapper.

Dependencies available to handlers by name: `runtime` (pool, keyring, store), `settings`,
`api_metrics`. The settings are also the app's `state.settings`, for helpers shared by many
handlers that need one setting per request (the organisation's team access,
`cases.http.team_access`) without each handler declaring it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from typing import Any

from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.stores.base import Store
from litestar.types import ControllerRouterHandler, Receive, Scope, Send

from services.api.access_routes import ACCESS_ROUTES
from services.api.activity_routes import ACTIVITY_ROUTES
from services.api.admission import Admission
from services.api.auth import BearerAuthenticationMiddleware, Verifier
from services.api.case_search_routes import CASE_SEARCH_ROUTES
from services.api.caseload_routes import CASELOAD_ROUTES
from services.api.cases.commands import COMMAND_ROUTES
from services.api.cases.export import EXPORT_ROUTES
from services.api.cases.privacy import PRIVACY_ROUTES
from services.api.cases.reads import READ_ROUTES
from services.api.directory_command_routes import DIRECTORY_COMMAND_ROUTES
from services.api.directory_routes import DIRECTORY_READ_ROUTES
from services.api.errors import handle_exception
from services.api.forwarded import apply_forwarded_scheme
from services.api.identity_routes import whoami
from services.api.inbox_routes import INBOX_ROUTES
from services.api.observe import ApiMetrics, observed
from services.api.organisation_routes import ORGANISATION_ROUTES
from services.api.report_routes import REPORT_ROUTES
from services.api.retention_routes import RETENTION_ROUTES
from services.api.screening_routes import SCREENING_ROUTES
from services.api.system import health, metrics, ready
from services.api.task_routes import TASK_ROUTES
from services.api.transfer_routes import TRANSFER_ROUTES
from services.bootstrap import Runtime
from services.console.app import console_router, template_config
from services.console.sessions import Clock
from services.console.web import console_error, is_console, with_security_headers
from services.screening.instruments import instrument_catalog
from services.settings import Settings

MAX_BODY_BYTES = 64 * 1024
API_VERSION = "0.1.0"


class HavenApp(Litestar):
    """Litestar, with every HTTP request observed before routing (see `observe`) and admitted
    only while the worker has a place for it (`admission`)."""

    api_metrics: ApiMetrics
    admission: Admission
    trusted_proxies: tuple[str, ...] = ()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        apply_forwarded_scheme(scope, self.trusted_proxies)  # type: ignore[arg-type]
        if is_console(scope["path"]):
            send = with_security_headers(send)  # type: ignore[arg-type,assignment]
        admitted = functools.partial(observed, super().__call__, self.api_metrics)
        await self.admission(admitted, scope, receive, send)  # type: ignore[arg-type]


def create_app(
    *,
    runtime: Runtime,
    verifier: Verifier,
    settings: Settings,
    route_handlers: Sequence[ControllerRouterHandler] = (),
    console_store: Store | None = None,
    console_clock: Clock = time.time,
) -> Litestar:
    """The API and the web console (`/console/`). `route_handlers` adds routes (behind
    authentication) to the built-in ones; `console_store` and `console_clock` hold the
    console's sessions (default: a file store in the data directory, the wall clock)."""
    instrument_catalog(settings.instrument_dir)  # a malformed instrument stops the start-up
    api_metrics = ApiMetrics(settings.metrics_dir)

    def provide_runtime() -> Runtime:
        return runtime

    def provide_settings() -> Settings:
        return settings

    def provide_metrics() -> ApiMetrics:
        return api_metrics

    app = HavenApp(
        route_handlers=[
            health,
            ready,
            metrics,
            whoami,
            *COMMAND_ROUTES,
            *READ_ROUTES,
            *PRIVACY_ROUTES,
            *EXPORT_ROUTES,
            *CASELOAD_ROUTES,
            *CASE_SEARCH_ROUTES,
            *ACCESS_ROUTES,
            *REPORT_ROUTES,
            *RETENTION_ROUTES,
            *ACTIVITY_ROUTES,
            *SCREENING_ROUTES,
            *TRANSFER_ROUTES,
            *INBOX_ROUTES,
            *DIRECTORY_READ_ROUTES,
            *DIRECTORY_COMMAND_ROUTES,
            *ORGANISATION_ROUTES,
            *TASK_ROUTES,
            console_router(
                verifier=verifier, settings=settings, store=console_store, clock=console_clock
            ),
            *route_handlers,
        ],
        template_config=template_config(),
        dependencies={
            "runtime": Provide(provide_runtime, sync_to_thread=False),
            "settings": Provide(provide_settings, sync_to_thread=False),
            "api_metrics": Provide(provide_metrics, sync_to_thread=False),
        },
        state=State({"settings": settings}),
        middleware=[DefineMiddleware(BearerAuthenticationMiddleware, verifier=verifier)],
        exception_handlers={Exception: _answer_error},
        on_shutdown=[api_metrics.close],
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=_openapi_config(),
        logging_config=None,  # logging is ours: services.observability.logging
        debug=False,
    )
    app.api_metrics = api_metrics
    app.admission = Admission(
        settings.max_in_flight or settings.database_limits.pool_size,
        settings.admission_wait,
        on_shed=api_metrics.shed.inc,
    )
    app.trusted_proxies = settings.trusted_proxies
    return app


def _answer_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A console address (one no route matched, too) answers a page; the API a problem."""
    if is_console(request.url.path):
        return console_error(request, exc)
    return handle_exception(request, exc)


def _openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Haven",
        version=API_VERSION,
        path="/schema",
        render_plugins=[JsonRenderPlugin()],
        components=Components(
            security_schemes={
                "BearerToken": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    bearer_format="JWT",
                    description="A token of the local issuer (`haven token`) or the "
                    "configured OpenID Connect provider.",
                ),
            }
        ),
    )

"""The console while the database is away: a 503 page that says to try again and that a form
sent twice is recorded once, with `Retry-After` — never a 500 page."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx

from services.api.app import create_app
from services.bootstrap import Runtime
from services.database import connection_pool
from services.identity import TokenVerifier
from services.settings import DatabaseLimits, Settings
from tests.api.conftest import api_client
from tests.api.test_served import free_port
from tests.console.support import ConsoleUser, assert_security_headers

NOWHERE = f"postgresql://postgres@127.0.0.1:{free_port()}/haven"  # nothing listens there


@contextlib.asynccontextmanager
async def console_without_database(
    runtime: Runtime, verifier: TokenVerifier, settings: Settings
) -> AsyncIterator[ConsoleUser]:
    limits = DatabaseLimits(connect_timeout=0.5)
    async with connection_pool(NOWHERE, min_size=0, max_size=1, limits=limits) as away:
        app = create_app(runtime=runtime._replace(pool=away), verifier=verifier, settings=settings)
        async with api_client(app, lifespan=False) as client:
            client.base_url = httpx.URL("http://testserver")
            yield ConsoleUser(client)


async def test_a_page_asks_to_try_again_while_the_database_is_away(
    runtime: Runtime, verifier: TokenVerifier, settings: Settings
) -> None:
    async with console_without_database(runtime, verifier, settings) as user:
        await user.sign_in()
        page = await user.client.get("/console/")
    assert page.status_code == 503
    assert page.headers["retry-after"] == "1"
    assert "cannot answer just now" in page.text
    assert "a form sent twice is recorded once" in page.text
    assert_security_headers(page)


async def test_control_the_same_page_answers_with_the_database_there(browser) -> None:
    async with browser() as user:
        await user.sign_in()
        page = await user.client.get("/console/")
    assert page.status_code == 200
    assert "cannot answer just now" not in page.text

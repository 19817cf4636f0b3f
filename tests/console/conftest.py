"""Fixtures for the console: the full app (API and console) against the test database, with
a clock the tests move, and a signed-in browser's client over httpx."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import httpx
import pytest
from litestar import Litestar

from services.api.app import create_app
from services.bootstrap import Runtime
from services.identity import TokenVerifier
from services.settings import Settings
from tests.api.conftest import api_client, data_dir, issuer, runtime, settings, verifier
from tests.console.support import Clock, ConsoleUser

__all__ = ["data_dir", "issuer", "runtime", "settings", "verifier"]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def console_app(
    runtime: Runtime, verifier: TokenVerifier, settings: Settings, clock: Clock
) -> Litestar:
    return create_app(runtime=runtime, verifier=verifier, settings=settings, console_clock=clock)


@pytest.fixture
def browser(console_app: Litestar) -> Callable[..., AbstractAsyncContextManager[ConsoleUser]]:
    """`async with browser() as user:` a browser of its own (its own cookies)."""

    @contextlib.asynccontextmanager
    async def open_browser(base_url: str = "http://testserver") -> AsyncIterator[ConsoleUser]:
        async with api_client(console_app, lifespan=False) as client:
            client.base_url = httpx.URL(base_url)
            yield ConsoleUser(client)

    return open_browser

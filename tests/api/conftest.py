"""Fixtures for the API: the app built against the test database, a local issuer, a client."""

from __future__ import annotations

import contextlib
import io
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar

from crypto.keyring import Keyring
from events.catalog import haven_registry
from events.idempotency import KeyHasher
from events.store import PostgresEventStore
from services.api.app import create_app
from services.bootstrap import Runtime
from services.identity import LocalIssuer, TokenVerifier
from services.observability.logging import configure_logging
from services.recent_states import RecentStates
from services.settings import Settings
from tests.logging_support import preserved_logging


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def issuer(data_dir: Path) -> LocalIssuer:
    return LocalIssuer.open(data_dir)


@pytest.fixture
def verifier(issuer: LocalIssuer) -> TokenVerifier:
    return TokenVerifier.for_local_issuer(issuer)


@pytest.fixture
def settings(data_dir: Path, database_url: str, key_file: Path) -> Settings:
    return Settings.from_environ(
        {
            "HAVEN_DATA_DIR": str(data_dir),
            "HAVEN_DATABASE_URL": database_url,
            "HAVEN_KEK": f"file:{key_file}",
        }
    )


@pytest.fixture
async def runtime(pool: asyncpg.Pool, keyring: Keyring) -> AsyncIterator[Runtime]:
    store = PostgresEventStore(pool, keyring, haven_registry())
    # as services.bootstrap.runtime builds it (its erasure watch aside)
    yield Runtime(pool, keyring, store, RecentStates(), idempotency=KeyHasher(keyring.provider))
    await store.close()


AppFactory = Callable[..., Litestar]


@pytest.fixture
def make_app(runtime: Runtime, verifier: TokenVerifier, settings: Settings) -> AppFactory:
    def make(*, route_handlers: Sequence[Any] = (), **overrides: Any) -> Litestar:
        options = {"runtime": runtime, "verifier": verifier, "settings": settings, **overrides}
        return create_app(route_handlers=route_handlers, **options)

    return make


@contextlib.asynccontextmanager
async def api_client(app: Litestar, *, lifespan: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    """A client calling `app` in *this* event loop, inside the app's lifespan.

    Not litestar's `AsyncTestClient`: in litestar 2.25 it runs the app on a blocking portal
    (another thread, another loop) and blocks this loop meanwhile, so the session's asyncpg
    pool, bound to this loop, cannot serve the app.

    `lifespan=False` for fixtures: litestar's lifespan opens an anyio task group, which must
    be left by the task that entered it, and pytest-asyncio sets a fixture up and tears it
    down in different tasks. The app needs no lifespan of its own: its runtime is built outside.
    """
    transport = httpx.ASGITransport(app=app)
    async with contextlib.AsyncExitStack() as stack:
        if lifespan:
            await stack.enter_async_context(app.lifespan())
        yield await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://testserver")
        )


@pytest.fixture
async def client(make_app: AppFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(make_app(), lifespan=False) as test_client:
        yield test_client


@pytest.fixture
def token(issuer: LocalIssuer) -> str:
    return issuer.mint("user-1", "org-a", ["caseworker"], team="team-north")


# The organisations and team of the case routes' tests, and who acts in them.
ORG, OTHER_ORG, TEAM = "org-harbor", "org-lantern", "team-north"


class People:
    def __init__(self, issuer: LocalIssuer) -> None:
        def mint(
            user: str, roles: list[str], org: str = ORG, team: str | None = TEAM
        ) -> dict[str, str]:
            return {"Authorization": f"Bearer {issuer.mint(user, org, roles, team=team)}"}

        self.worker = mint("worker-1", ["caseworker"])
        self.colleague = mint("worker-2", ["caseworker"])
        self.stranger = mint("worker-9", ["caseworker"], org=OTHER_ORG)
        self.supervisor = mint("supervisor-1", ["supervisor"])
        self.admin = mint("admin-1", ["admin"])
        self.reporter = mint("reporter-1", ["reporter"])


@pytest.fixture
def people(issuer: LocalIssuer) -> People:
    """Callers of the case routes; a module may define its own `people` in its place."""
    return People(issuer)


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """The real logging pipeline into a buffer; the previous configuration restored after."""
    with preserved_logging():
        stream = io.StringIO()
        configure_logging("info", stream=stream)
        yield stream


def log_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture
async def cases(make_app: AppFactory) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the full app (case routes included), without its lifespan."""
    async with api_client(make_app(), lifespan=False) as client:
        yield client


@contextlib.asynccontextmanager
async def access_records_refused(pool: asyncpg.Pool, case_id: str) -> AsyncIterator[None]:
    """A real failure of the access record's INSERT for one case (a trigger, so that other
    tests are untouched), as a full disk, a revoked privilege or a broken constraint would."""
    function = f"haven.test_refuse_{uuid.uuid4().hex[:12]}"
    trigger = f"test_refuse_{uuid.uuid4().hex[:12]}"
    await pool.execute(f"""
        CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.case_id = '{case_id}'::uuid THEN
                RAISE EXCEPTION 'access records refused (test)';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER {trigger} BEFORE INSERT ON haven.access_records
            FOR EACH ROW EXECUTE FUNCTION {function}();
    """)
    try:
        yield
    finally:
        await pool.execute(
            f"DROP TRIGGER {trigger} ON haven.access_records; DROP FUNCTION {function}();"
        )

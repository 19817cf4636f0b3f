"""The raw limit of `haven bench http`: the least a litestar route can do for each request.

    granian --interface asgi --factory services.bench.raw_app:build

`haven bench http` serves this app exactly as it serves the API (`services.bench.http_server`:
the same granian command line, workers and environment; the pool opened by
`services.database.connection_pool` within the same `HAVEN_DB_POOL_SIZE` and limits), and its
load generator sends it the same requests on the same paths:

* `POST /v1/cases/{case_id}/services`: the JSON body parsed by litestar, then one plain
  autocommit INSERT with asyncpg of a row as large as a recorded service
  (`HAVEN_BENCH_RAW_SIZE` bytes of ciphertext) into `RAW_TABLE`, a copy of `haven.events`'
  definition, on a stream of its own; the answer is `{case_id, version}` with the `ETag` of
  the version after `If-Match`'s, as the API answers, so a client carries it forward alike.
* `GET /v1/cases/{case_id}`: one SELECT by primary key of the case's row in `RAW_TABLE`
  (`seed_reads` writes one per case), answered as JSON with its content in base64.
* `GET /ready`: 200 once the pool is open.

No authentication, no validation beyond JSON, no encryption, no event, no access record: that
is the point, what the API does beyond this is what its ratio to this app measures. The rows
are synthetic random bytes.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import os
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import State
from litestar.logging.config import LoggingConfig

from services.database import connection_pool
from services.settings import Settings

RAW_TABLE = "bench_http_raw"
RAW_SCHEMA = f"CREATE TABLE IF NOT EXISTS {RAW_TABLE} (LIKE haven.events INCLUDING ALL)"
SIZE_VARIABLE = "HAVEN_BENCH_RAW_SIZE"
TENANT = "org-bench-raw"
EVENT_TYPE = "bench.RawRecorded"
DEFAULT_SIZE = 400

_INSERT = f"""INSERT INTO {RAW_TABLE} (tenant_id, stream_id, version, event_type,
    schema_version, key_id, recorded_at, ciphertext, chain_hash)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"""
_SELECT = f"""SELECT version, recorded_at, ciphertext FROM {RAW_TABLE}
 WHERE tenant_id = $1 AND stream_id = $2 AND version = 1"""
_ETAG = re.compile(r'^"([0-9]{1,12})"$')


def _row(stream_id: uuid.UUID, blob: bytes) -> tuple[Any, ...]:
    return (
        TENANT,
        stream_id,
        1,
        EVENT_TYPE,
        1,
        "raw-key",
        dt.datetime.now(dt.UTC),
        blob,
        os.urandom(32),
    )


async def seed_reads(pool: asyncpg.Pool, case_ids: Sequence[str], size: int) -> None:
    """The row each case's raw read selects: `size` random bytes, on the case's own id."""
    await pool.execute(RAW_SCHEMA)
    await pool.executemany(
        _INSERT, [_row(uuid.UUID(case_id), os.urandom(size)) for case_id in case_ids]
    )


def _next_version(request: Request[Any, Any, Any]) -> int:
    matched = _ETAG.match(request.headers.get("if-match", "").strip())
    return (int(matched.group(1)) if matched else 0) + 1


@post("/v1/cases/{case_id:uuid}/services", status_code=200)
async def record(
    request: Request[Any, Any, Any], state: State, case_id: uuid.UUID, data: dict[str, Any]
) -> Response[dict[str, Any]]:
    version = _next_version(request)
    await state.pool.execute(_INSERT, *_row(uuid.uuid4(), state.blob))
    return Response({"case_id": str(case_id), "version": version}, headers={"ETag": f'"{version}"'})


@get("/v1/cases/{case_id:uuid}")
async def read(state: State, case_id: uuid.UUID) -> Response[dict[str, Any]]:
    row = await state.pool.fetchrow(_SELECT, TENANT, case_id)
    if row is None:
        return Response({"title": "no such case"}, status_code=404)
    return Response(
        {
            "case_id": str(case_id),
            "version": row["version"],
            "recorded_at": row["recorded_at"].isoformat(),
            "content": base64.b64encode(row["ciphertext"]).decode("ascii"),
        },
        headers={"ETag": f'"{row["version"]}"'},
    )


@get("/ready")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


def build() -> Litestar:
    """The raw app of a server worker: its pool as the API's is, from the same environment."""
    settings = Settings.from_environ()
    if settings.database_url is None:
        raise RuntimeError("the raw app needs HAVEN_DATABASE_URL")
    url = settings.database_url
    size = int(os.environ.get(SIZE_VARIABLE, DEFAULT_SIZE))

    @contextlib.asynccontextmanager
    async def pool_open(app: Litestar) -> AsyncIterator[None]:
        async with connection_pool(
            url,
            transaction_pooled=settings.transaction_pooled,
            limits=settings.database_limits,
        ) as pool:
            app.state.pool = pool
            app.state.blob = os.urandom(size)
            yield

    return Litestar(
        route_handlers=[record, read, ready],
        lifespan=[pool_open],
        openapi_config=None,
        # a failed request (a 500) fails the bench: its traceback goes to the server's log
        logging_config=LoggingConfig(log_exceptions="always"),
    )

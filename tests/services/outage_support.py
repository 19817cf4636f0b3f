"""A PostgreSQL cluster a test may stop, crash and cut off, and `haven serve` in front of it.

* `private_cluster`: a throw-away cluster of Debian's PostgreSQL binaries (initdb + pg_ctl, as
  the system user `postgres` when the tests run as root), on a free loopback port; `stop`
  with `pg_ctl -m fast` (a clean shutdown) or `-m immediate` (a crash: no checkpoint, crash
  recovery at the next start), and `start`.
* `Proxy`: a TCP relay between Haven and the cluster, transparent until told otherwise:
  `cut_off()` makes the database unreachable without closing anything (bytes are held, new
  connections hang, as when a network drops packets), `restore()` ends that the way TCP would
  (every held connection reset) and relays again; `cut_at(marker, deliver=...)` resets the
  connection that next sends `marker`, after delivering it or before (a command's COMMIT).
* `LIMITS`: Haven's database limits, short enough that an unreachable database is noticed
  within a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.api.test_served import free_port
from tests.services.test_database_tls import RUN_AS, _as_cluster_owner, _bin, _run

# Haven's waits on its database in these tests (the defaults are seconds longer): a statement
# gets 1 s on the server and 2 s on the client, a connection 1 s to open
LIMITS = {
    "HAVEN_DB_CONNECT_TIMEOUT": "1",
    "HAVEN_DB_ACQUIRE_TIMEOUT": "2",
    "HAVEN_DB_STATEMENT_TIMEOUT": "1",
}


class Cluster:
    def __init__(self, base: Path) -> None:
        self.owner = _as_cluster_owner()
        self.data = base / "data"
        self.log = base / "postgres.log"
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/haven"

    def start(self) -> None:
        _run(
            self.owner, _bin() / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60",
            "start", log=self.log,
        )  # fmt: skip

    def stop(self, mode: str) -> None:
        """`fast`: a clean shutdown; `immediate`: a crash (recovery at the next start)."""
        _run(self.owner, _bin() / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")


@contextlib.contextmanager
def private_cluster() -> Iterator[Cluster]:
    """A cluster in a directory of its own (pytest's are not the postgres user's to enter)."""
    base = Path(tempfile.mkdtemp(prefix="haven-outage-"))
    cluster = Cluster(base)
    if cluster.owner:
        shutil.chown(base, RUN_AS, RUN_AS)
    _run(
        cluster.owner, _bin() / "initdb", "-D", cluster.data, "-U", "postgres", "--auth=trust",
        "--no-sync",
    )  # fmt: skip
    with (cluster.data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"listen_addresses = '127.0.0.1'\nport = {cluster.port}\n"
            "unix_socket_directories = ''\nfsync = off\nmax_connections = 200\n"
        )
    cluster.start()
    try:
        yield cluster
    finally:
        with contextlib.suppress(AssertionError):  # already stopped by a failing test
            cluster.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


class Proxy:
    """A TCP relay from `port` to the cluster's port on 127.0.0.1 (see the module's text)."""

    def __init__(self, upstream_port: int) -> None:
        self.port = free_port()
        self._upstream = upstream_port
        self._relaying = asyncio.Event()
        self._relaying.set()
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter | None]] = set()
        self._cut: tuple[bytes, bool] | None = None
        self.cut_done = asyncio.Event()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/haven"

    async def __aenter__(self) -> Proxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self._reset_all()
        self._relaying.set()

    def cut_off(self) -> None:
        self._relaying.clear()

    def restore(self) -> None:
        self._reset_all()
        self._relaying.set()

    def cut_at(self, marker: bytes, *, deliver: bool) -> None:
        self.cut_done.clear()
        self._cut = (marker, deliver)

    def _reset_all(self) -> None:
        for client, server in list(self._links):
            client.transport.abort()
            if server is not None:
                server.transport.abort()
        self._links.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held = (writer, None)
        self._links.add(held)
        await self._relaying.wait()
        if held not in self._links:  # reset while it waited
            return
        self._links.discard(held)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._upstream)
        except OSError:  # the server is down: the client sees its connection closed
            writer.transport.abort()
            return
        link = (writer, up_writer)
        self._links.add(link)
        await asyncio.gather(
            self._relay(reader, up_writer, link, watch=True),
            self._relay(up_reader, writer, link, watch=False),
        )

    async def _relay(
        self,
        source: asyncio.StreamReader,
        target: asyncio.StreamWriter,
        link: tuple[asyncio.StreamWriter, Any],
        *,
        watch: bool,
    ) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            while data := await source.read(65536):
                await self._relaying.wait()
                if link not in self._links:
                    return
                if watch and self._cut is not None and self._cut[0] in data:
                    _, deliver = self._cut
                    self._cut = None
                    if deliver:
                        target.write(data)
                        await target.drain()
                    self._links.discard(link)
                    for side in link:
                        side.transport.abort()
                    self.cut_done.set()
                    return
                target.write(data)
                await target.drain()
        self._links.discard(link)
        for side in link:
            side.transport.abort()

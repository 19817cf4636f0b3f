"""A pg_auto_failover formation on loopback, for the failover tests: a monitor and two data
nodes, a primary and its synchronous standby, each a `pg_autoctl` service of Debian's
`postgresql-NN-auto-failover` (`.ci/run` installs it) on a free port, with its data, its
configuration and its state under one temporary directory.

The monitor checks the nodes far more often than it does by default (`FAST_FAILOVER`), so that
a lost primary is replaced within seconds rather than within a minute. `lose(node)` is a lost
machine: every process of that node (its `pg_autoctl` supervisor, keeper and PostgreSQL, the
backends included) is killed with SIGKILL at once, so nothing restarts it. Killing only its
`postgres` is a crash, not a lost machine: the node's keeper restarts PostgreSQL at once (with
`FAST_FAILOVER` the monitor still promotes the standby first, and the restarted node follows it
within seconds, as its standby).

Teardown kills every process of the formation, whatever the test did, and waits (bounded) until
none is left. No process group holds them all (each PostgreSQL process calls setsid()), and
some outlive their postmaster (its logger, the monitor's health-check worker), so they are
found one by one: `pg_autoctl` by `FORMATION_MARKER` in its environment, PostgreSQL's by its
working directory, the node's data directory (PostgreSQL writes its process titles over its
environment).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import psutil
import pytest

from tests.api.test_served import free_port
from tests.services.test_database_tls import RUN_AS, _as_cluster_owner

DATABASE = "haven"  # created by Haven itself, through the formation's URL
FORMATION_MARKER = "HAVEN_TEST_FORMATION"  # in the environment of every process of a formation
# The monitor's health checks, in milliseconds (pg_auto_failover's defaults in brackets): a node
# is checked every second [5 s], given 1 s to answer [5 s] and one retry after 0.2 s [2 after
# 2 s]; it is unhealthy after 2 s without a report [20 s], and a primary that does not answer
# is taken as demoted after 2 s [30 s]. The monitor acts from 1 s after its start [10 s].
FAST_FAILOVER = {
    "pgautofailover.health_check_period": 1000,
    "pgautofailover.health_check_timeout": 1000,
    "pgautofailover.health_check_max_retries": 1,
    "pgautofailover.health_check_retry_delay": 200,
    "pgautofailover.node_considered_unhealthy_timeout": 2000,
    "pgautofailover.primary_demote_timeout": 2000,
    "pgautofailover.startup_grace_period": 1000,
}
WRITABLE = ("primary", "wait_primary", "single")  # states in which a node takes writes
READY_POLLS = 1200  # x 0.1 s for the formation to form: bounded, never timed
FAILOVER_POLLS = 1200  # x 0.05 s for the standby to take over: bounded, never timed
GONE_POLLS = 200  # x 0.05 s for killed processes to be gone
# a node down, starting, or up but not read-write (asyncpg's TargetServerAttributeNotMatched)
UNANSWERED = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


def _installation() -> tuple[Path, Path]:
    """`pg_autoctl`, and the bin directory of the PostgreSQL its extension was built for."""
    autoctl = shutil.which("pg_autoctl") or shutil.which("pg_autoctl", path="/usr/bin")
    controls = sorted(
        Path("/usr/share/postgresql").glob("*/extension/pgautofailover.control"),
        key=lambda path: int(path.parts[-3]),
    )
    if autoctl is None or not controls:
        pytest.skip(
            "no pg_auto_failover (Debian: apt-get install postgresql-15-auto-failover; "
            ".ci/run installs it)"
        )
    return Path(autoctl), Path("/usr/lib/postgresql") / controls[-1].parts[-3] / "bin"


@dataclass
class Node:
    name: str
    port: int
    pgdata: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


@dataclass
class Formation:
    base: Path
    monitor: Node
    nodes: list[Node]
    owner: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """What Haven is given: every data node, and only a read-write one will do."""
        hosts = ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)
        return f"postgresql://postgres@{hosts}/{DATABASE}?target_session_attrs=read-write"

    @property
    def monitor_uri(self) -> str:
        return f"postgres://autoctl_node@127.0.0.1:{self.monitor.port}/pg_auto_failover"

    async def states(self) -> dict[str, tuple[str, str]]:
        """The monitor's view: each data node's (reported state, assigned state)."""
        conn = await asyncpg.connect(self.monitor.url("pg_auto_failover"), timeout=5)
        try:
            rows = await conn.fetch(
                "SELECT nodename, reportedstate::text, goalstate::text FROM pgautofailover.node"
            )
        finally:
            await conn.close()
        return {row[0]: (row[1], row[2]) for row in rows}

    async def primary(self) -> Node:
        """The node the monitor has as primary, once it takes writes."""
        for _ in range(READY_POLLS):
            states = await _quietly(self.states) or {}
            for node in self.nodes:
                reported, assigned = states.get(node.name, ("", ""))
                if reported == assigned and reported in WRITABLE and await writable(node):
                    return node
            await asyncio.sleep(0.1)
        pytest.fail(f"no primary in the formation: {await _quietly(self.states)}")

    async def wait_until_primary(self, node: Node) -> None:
        """Until the monitor has promoted `node` and it takes writes (bounded polls)."""
        for _ in range(FAILOVER_POLLS):
            reported, assigned = (await _quietly(self.states) or {}).get(node.name, ("", ""))
            if reported == assigned and reported in WRITABLE and await writable(node):
                return
            await asyncio.sleep(0.05)
        pytest.fail(f"{node.name} never became the primary: {await _quietly(self.states)}")

    def lose(self, node: Node) -> None:
        """A lost machine: SIGKILL to every process of `node` at once (see the module's text)."""
        _kill_all(node)

    def processes(self) -> list[psutil.Process]:
        return [process for node in (self.monitor, *self.nodes) for process in _processes(node)]


async def writable(node: Node) -> bool:
    """Whether `node` accepts a read-write connection (as Haven's URL asks)."""
    try:
        conn = await asyncpg.connect(
            node.url("postgres"), timeout=2, target_session_attrs="read-write"
        )
    except UNANSWERED:
        return False
    await conn.close()
    return True


async def _quietly(query: Any) -> Any:
    try:
        return await query()
    except UNANSWERED:
        return None


@contextlib.asynccontextmanager
async def formation() -> AsyncIterator[Formation]:
    """A monitor, a primary and a synchronous standby; yields once the standby is in sync."""
    autoctl, bindir = _installation()
    owner = _as_cluster_owner()
    base = Path(tempfile.mkdtemp(prefix="haven-failover-"))  # not pytest's: RUN_AS enters it
    if owner:
        shutil.chown(base, RUN_AS, RUN_AS)
    env = {
        "PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PG_CONFIG": str(bindir / "pg_config"),
        "HOME": str(base),
        "XDG_CONFIG_HOME": str(base / "config"),  # pg_autoctl's configuration files
        "XDG_DATA_HOME": str(base / "share"),  # its state files
        "XDG_RUNTIME_DIR": str(base / "run"),  # its pid files
        "LANG": "C.UTF-8",
        FORMATION_MARKER: str(base),
    }

    def node(name: str) -> Node:
        return Node(name, free_port(), base / name, base / f"{name}.log")

    made = Formation(base, node("monitor"), [node("node1"), node("node2")], owner)
    try:
        _start(made, made.monitor, env, autoctl, "monitor")
        await _until_monitor_ready(made)
        await _settle_monitor(made)
        first, second = made.nodes
        _start(made, first, env, autoctl, "postgres")
        await _until_reported(made, first, ("single",))
        await _quick_checkpoints(first)
        _start(made, second, env, autoctl, "postgres")
        await _until_formed(made)
        yield made
    finally:
        for each in (*made.nodes, made.monitor):
            _kill_all(each)
        left = made.processes()
        shutil.rmtree(base, ignore_errors=True)
        assert not left, f"processes of the formation outlived it: {left}"


def _start(made: Formation, node: Node, env: dict[str, str], autoctl: Path, kind: str) -> None:
    command = [
        str(autoctl), "create", kind, "--pgdata", str(node.pgdata), "--pgport", str(node.port),
        "--hostname", "127.0.0.1", "--auth", "trust", "--no-ssl", "--run",
    ]  # fmt: skip
    if kind == "postgres":
        command += [
            "--name", node.name, "--listen", "127.0.0.1", "--monitor", made.monitor_uri,
        ]  # fmt: skip
    with node.log.open("wb") as out:
        node.process = subprocess.Popen(
            command,
            env={**env, FORMATION_MARKER: f"{made.base} {node.name}"},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=made.base,
            start_new_session=True,
            **made.owner,
        )


def _tail(node: Node) -> str:
    return node.log.read_text(errors="replace")[-3000:] if node.log.exists() else ""


async def _until_monitor_ready(made: Formation) -> None:
    async def answers() -> bool:
        conn = await asyncpg.connect(made.monitor.url("pg_auto_failover"), timeout=2)
        try:
            await conn.fetchval("SELECT count(*) FROM pgautofailover.node")
        finally:
            await conn.close()
        return True

    for _ in range(READY_POLLS):
        assert made.monitor.process and made.monitor.process.poll() is None, _tail(made.monitor)
        if await _quietly(answers):
            return
        await asyncio.sleep(0.1)
    pytest.fail("the monitor never answered: " + _tail(made.monitor))


async def _settle_monitor(made: Formation) -> None:
    """The monitor's settings for a fast failover (`FAST_FAILOVER`), reloaded at once."""
    conn = await asyncpg.connect(made.monitor.url("pg_auto_failover"), timeout=5)
    try:
        for name, value in FAST_FAILOVER.items():
            await conn.execute(f"ALTER SYSTEM SET {name} = {int(value)}")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


async def _quick_checkpoints(primary: Node) -> None:
    """The standby's base backup waits for a checkpoint, spread over minutes by default."""
    conn = await asyncpg.connect(primary.url("postgres"), timeout=5)
    try:
        await conn.execute("ALTER SYSTEM SET checkpoint_completion_target = 0")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


async def _until_reported(made: Formation, node: Node, states: tuple[str, ...]) -> None:
    for _ in range(READY_POLLS):
        assert node.process and node.process.poll() is None, _tail(node)
        reported, assigned = (await _quietly(made.states) or {}).get(node.name, ("", ""))
        if reported == assigned and reported in states:
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"{node.name} never reached {states}: {await _quietly(made.states)}\n{_tail(node)}")


async def _until_formed(made: Formation) -> None:
    """Until one node is the primary and the other its standby, whichever is which (a busy
    machine may have made the monitor fail over already)."""
    for _ in range(READY_POLLS):
        for node in made.nodes:
            assert node.process and node.process.poll() is None, _tail(node)
        states = (await _quietly(made.states) or {}).values()
        if all(reported == assigned for reported, assigned in states) and sorted(
            reported for reported, _ in states
        ) == ["primary", "secondary"]:
            return
        await asyncio.sleep(0.1)
    tails = "\n".join(_tail(node) for node in made.nodes)
    pytest.fail(f"the formation never formed: {await _quietly(made.states)}\n{tails}")


def _processes(node: Node) -> list[psutil.Process]:
    """Every live process of `node` (see the module's text for how they are found)."""
    marker = f"{node.pgdata.parent} {node.name}"
    found = []
    for process in psutil.process_iter(["status"]):
        if process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        with contextlib.suppress(psutil.Error):
            cwd = Path(process.cwd().removesuffix(" (deleted)"))
            if cwd == node.pgdata or process.environ().get(FORMATION_MARKER) == marker:
                found.append(process)
    return found


def _kill_all(node: Node) -> None:
    """SIGKILL to the node's whole process tree and anything else carrying its marker, until
    none is left (bounded); the supervisor, our child, is reaped."""
    if node.process is not None and node.process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.process.pid, signal.SIGKILL)
    for _ in range(GONE_POLLS):
        alive = _processes(node)
        if not alive:
            break
        for process in alive:
            with contextlib.suppress(psutil.Error):
                process.send_signal(signal.SIGKILL)
        psutil.wait_procs(alive, timeout=0.05)
    if node.process is not None:
        node.process.wait()

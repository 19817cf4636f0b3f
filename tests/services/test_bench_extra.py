"""The HTTP bench's client is an optional extra: the installed service never loads it.

`aiohttp` comes with `haven[bench]` (and the test extra). Without it, `haven bench http`
answers one line naming the extra, exit status 2, before any database is started; every
other module of the service imports without it. "Without it" is simulated by
`sys.modules["aiohttp"] = None`, which makes every import of it fail.
"""

from __future__ import annotations

import gc
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import services
from services.bench.command import BENCH_EXTRA_MISSING
from services.cli import main
from tests.logging_support import preserved_logging

REPOSITORY = Path(__file__).resolve().parents[2]
CLIENT_MODULES = {  # the only ones that need it
    "services.bench.http",
    "services.bench.http_server",
    "services.bench.loadgen",
    "services.bench.openloop",
}


def without_aiohttp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiohttp", None)
    for name in CLIENT_MODULES:  # imported again, as in a fresh process
        monkeypatch.delitem(sys.modules, name, raising=False)


def test_bench_http_without_the_extra_answers_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    without_aiohttp(monkeypatch)
    with pytest.raises(ImportError):  # control: the client really cannot be imported
        importlib.import_module("aiohttp")
    monkeypatch.setenv("HAVEN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("HAVEN_DATABASE_URL", raising=False)  # nothing may start one
    # what earlier tests of this worker left for the collector (asyncio reports a pending task
    # it destroys) is collected now, and said before the command's output is read
    gc.collect()
    capsys.readouterr()
    with preserved_logging():
        code = main(["bench", "http"])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.splitlines() == [BENCH_EXTRA_MISSING] and out == ""
    assert "pip install 'haven[bench]'" in BENCH_EXTRA_MISSING
    assert not (tmp_path / "data").exists()  # no embedded database was set up


def test_control_with_the_extra_the_http_bench_imports() -> None:
    module = importlib.import_module("services.bench.http")
    assert module.run_http_bench is not None
    assert importlib.import_module("aiohttp") is sys.modules["aiohttp"]


def service_modules() -> list[str]:
    found = pkgutil.walk_packages(services.__path__, prefix="services.")
    return sorted(info.name for info in found if info.name not in CLIENT_MODULES)


def test_no_other_service_module_imports_the_client() -> None:
    modules = service_modules()
    assert {"services.cli", "services.bench.projections", "services.demo.bulk"} <= set(modules)
    script = (
        "import importlib, sys\n"
        "sys.modules['aiohttp'] = None\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "assert sys.modules['aiohttp'] is None\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPOSITORY, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_control_the_import_check_sees_a_module_that_needs_the_client() -> None:
    script = "import sys\nsys.modules['aiohttp'] = None\nimport services.bench.http\n"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPOSITORY, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0 and "aiohttp" in result.stderr

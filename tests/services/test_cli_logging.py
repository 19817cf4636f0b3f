"""One-shot commands (`haven db`, `demo`, `verify`, `projections`, `bench`, `report`, `token`)
log as the service does: JSON through the redactor's allow-list — on standard error, since
their standard output is their data (a token, a report, a table)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import structlog

from services.cli import main
from tests.logging_support import preserved_logging

CANARY = "synthetic-canary-client-name-5c1e"


def test_a_one_shot_command_logs_redacted_json_to_standard_error(
    database_url: str,
    key_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Control: structlog unconfigured (as these commands were) prints a line as it is,
    # on standard output.
    with preserved_logging():
        structlog.reset_defaults()
        structlog.get_logger().info("command finished", client_name=CANARY)
    assert CANARY in capsys.readouterr().out

    monkeypatch.setenv("HAVEN_DATABASE_URL", database_url)
    monkeypatch.setenv("HAVEN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HAVEN_KEK", f"file:{key_file}")
    with preserved_logging():
        assert main(["db", "upgrade"]) == 0
        structlog.get_logger(component="cli").info("command finished", client_name=CANARY)
    out, err = capsys.readouterr()
    assert CANARY not in out + err
    assert (
        out.startswith("haven: ") and "command finished" not in out
    )  # standard output: the command's own
    line = json.loads(err.strip().splitlines()[-1])
    assert (line["event"], line["component"], line["client_name"]) == (
        "command finished",
        "cli",
        "[redacted]",
    )

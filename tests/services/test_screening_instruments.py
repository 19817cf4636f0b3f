"""The instruments a deployment offers: the package's, plus an organisation's own versions from
`HAVEN_INSTRUMENT_DIR`; `haven instruments list` and `haven instruments check`. Synthetic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from domain.screening.instrument import InstrumentInvalid
from services.cli import main
from services.screening.instruments import directory_instruments, instrument_catalog
from tests.domain.test_screening import default_document


def own_version(version: int = 2, organisation: str | None = "org-harbor", **changes: Any) -> dict:
    document = default_document()
    document.update(
        {
            "id": "harbor-screen",
            "version": version,
            "title": "Harbor's screening, shorter",
            "organisation": organisation,
            "items": document["items"][:6] + [document["items"][-3]],
            **changes,
        }
    )
    return document


def write(directory: Path, name: str, document: dict | str) -> Path:
    path = directory / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def test_an_organisation_s_version_is_offered_to_it_alone(tmp_path: Path) -> None:
    write(tmp_path, "harbor-2.json", own_version())
    write(tmp_path, "shared-1.json", own_version(1, None, id="shared-screen"))
    write(tmp_path, ".hidden.json", "{not json")  # ignored, as is any file not *.json
    write(tmp_path, "notes.txt", "{not json")
    catalog = instrument_catalog(tmp_path)
    harbor = {i.key for i in catalog.available("org-harbor")}
    lantern = {i.key for i in catalog.available("org-lantern")}
    assert harbor == {("ilo-forced-labour", 1), ("harbor-screen", 2), ("shared-screen", 1)}
    assert lantern == {("ilo-forced-labour", 1), ("shared-screen", 1)}
    assert catalog.find("org-lantern", "harbor-screen", 2) is None
    assert catalog.find("org-harbor", "harbor-screen", 2) is not None


def test_a_malformed_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    write(tmp_path, "broken.json", own_version(scoring={"strong_items": 1}))
    with pytest.raises(InstrumentInvalid) as refused:
        directory_instruments(tmp_path)
    assert "broken.json" in str(refused.value) and "scoring" in str(refused.value)


def test_a_version_defined_twice_differently_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.json", own_version())
    write(tmp_path, "b.json", own_version(title="the same version, other content"))
    with pytest.raises(InstrumentInvalid, match="defined twice"):
        instrument_catalog(tmp_path)
    redefined = default_document()
    redefined["title"] = "the shipped version, rewritten"
    other = tmp_path / "other"
    other.mkdir()
    write(other, "ilo.json", redefined)
    with pytest.raises(InstrumentInvalid, match="defined twice"):  # the shipped one stands
        instrument_catalog(other)


def test_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InstrumentInvalid, match="not a directory"):
        instrument_catalog(tmp_path / "nowhere")


def test_haven_instruments_list_and_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "harbor-2.json", own_version())
    monkeypatch.setenv("HAVEN_INSTRUMENT_DIR", str(tmp_path))
    monkeypatch.setenv("HAVEN_DATA_DIR", str(tmp_path / "data"))
    assert main(["instruments", "list"]) == 0
    listed = capsys.readouterr().out
    assert "ilo-forced-labour" in listed and "harbor-screen" in listed
    assert main(["instruments", "list", "--org", "org-lantern", "--json"]) == 0
    assert [i["id"] for i in json.loads(capsys.readouterr().out)] == ["ilo-forced-labour"]
    assert main(["instruments", "check", str(tmp_path / "harbor-2.json")]) == 0
    assert "is valid" in capsys.readouterr().out
    bad = write(tmp_path, "bad.txt", json.dumps(own_version(version=0)))
    assert main(["instruments", "check", str(bad)]) == 1
    assert "$.version" in capsys.readouterr().err

"""The screening instruments a deployment offers: those shipped in the package
(`domain/screening/instruments/*.json`) and those in `HAVEN_INSTRUMENT_DIR`, each file one
instrument version (docs/identification.md).

An instrument whose file names an `organisation` is offered to that organisation only; one
without is offered to every organisation. A file that is malformed, or that repeats an
`(id, version)` already loaded with other content, stops the start-up with an error naming the
file and the fault: a screening must never be scored under a definition nobody checked.
Instrument versions are never removed while screenings name them: a screening is always read
and reported under the version it was recorded with.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from domain.screening.instrument import (
    Instrument,
    InstrumentInvalid,
    file_name_fits,
    parse_instrument,
)

MAX_FILE_BYTES = 1_000_000


class InstrumentCatalog:
    def __init__(self, instruments: list[Instrument]) -> None:
        self._by_key: dict[tuple[str, int], Instrument] = {}
        for instrument in instruments:
            earlier = self._by_key.get(instrument.key)
            if earlier is not None and earlier != instrument:
                raise InstrumentInvalid(
                    f"instrument {instrument.id} version {instrument.version} is defined twice "
                    "with different content"
                )
            self._by_key[instrument.key] = instrument

    def all(self) -> list[Instrument]:
        """Every instrument of the deployment, by id and version."""
        return [instrument for _, instrument in sorted(self._by_key.items())]

    def available(self, organisation_id: str) -> list[Instrument]:
        """The instruments the organisation may screen with, by id and version."""
        return [
            instrument
            for key, instrument in sorted(self._by_key.items())
            if instrument.organisation in (None, organisation_id)
        ]

    def find(self, organisation_id: str, instrument_id: str, version: int) -> Instrument | None:
        instrument = self._by_key.get((instrument_id, version))
        if instrument is None or instrument.organisation not in (None, organisation_id):
            return None
        return instrument


def shipped_instruments() -> list[Instrument]:
    folder = resources.files("domain.screening").joinpath("instruments")
    return [
        parse_instrument(entry.read_bytes(), f"package instrument {entry.name}")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if file_name_fits(entry.name)
    ]


def directory_instruments(directory: Path) -> list[Instrument]:
    """Every ``*.json`` of `directory`; `InstrumentInvalid` for a missing directory or a
    malformed file."""
    if not directory.is_dir():
        raise InstrumentInvalid(f"HAVEN_INSTRUMENT_DIR {directory} is not a directory")
    found = []
    for path in sorted(directory.iterdir()):
        if not (file_name_fits(path.name) and path.is_file()):
            continue
        data = path.read_bytes()
        if len(data) > MAX_FILE_BYTES:
            raise InstrumentInvalid(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        found.append(parse_instrument(data, str(path)))
    return found


@functools.lru_cache(maxsize=8)
def instrument_catalog(directory: Path | None = None) -> InstrumentCatalog:
    """The shipped instruments and those of `directory` (None: the shipped ones only)."""
    instruments = shipped_instruments()
    if directory is not None:
        instruments += directory_instruments(directory)
    return InstrumentCatalog(instruments)

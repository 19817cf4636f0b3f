"""`haven instruments list [--org O] [--json]` and `haven instruments check FILE`: the screening
instruments this deployment offers (those shipped and those of `HAVEN_INSTRUMENT_DIR`), and
whether a file an organisation wrote is a valid instrument before it is put in that
directory. Neither needs the database; nothing about a person is printed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import msgspec

from domain.screening.instrument import Instrument, InstrumentInvalid, parse_instrument
from services.screening.instruments import MAX_FILE_BYTES, instrument_catalog
from services.settings import Settings


def add_instruments_command(commands: Any) -> None:
    """`haven instruments ...` on the `haven` parser's subcommands."""
    instruments = commands.add_parser(
        "instruments", help="the screening instruments offered, and checking an instrument file"
    )
    instrument_commands = instruments.add_subparsers(dest="instruments_command", required=True)
    listing = instrument_commands.add_parser(
        "list", help="every instrument and version (shipped and HAVEN_INSTRUMENT_DIR's)"
    )
    listing.add_argument("--org", metavar="O", help="only those this organisation may use")
    listing.add_argument("--json", action="store_true", help="the full definitions as JSON")
    check = instrument_commands.add_parser(
        "check", help="validate an instrument file (exit 1 naming the fault)"
    )
    check.add_argument("file", type=Path, metavar="FILE")


def run_instruments_command(settings: Settings, args: argparse.Namespace) -> int:
    if args.instruments_command == "check":
        return _check(args.file)
    try:
        catalog = instrument_catalog(settings.instrument_dir)
    except InstrumentInvalid as invalid:
        print(f"haven instruments: {invalid}", file=sys.stderr)
        return 1
    listed = catalog.all() if args.org is None else catalog.available(args.org)
    if args.json:
        sys.stdout.write(msgspec.json.format(msgspec.json.encode(listed)).decode() + "\n")
        return 0
    print(f"{'id':24s} {'version':>7s} {'items':>5s}  {'organisation':16s} title")
    for instrument in listed:
        print(_line(instrument))
    return 0


def _line(instrument: Instrument) -> str:
    owner = instrument.organisation or "(every one)"
    return (
        f"{instrument.id:24s} {instrument.version:7d} {len(instrument.items):5d}  "
        f"{owner:16s} {instrument.title}"
    )


def _check(path: Path) -> int:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InstrumentInvalid(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        instrument = parse_instrument(path.read_bytes(), str(path))
    except OSError as error:
        print(f"haven instruments: {path}: cannot be read ({error.strerror})", file=sys.stderr)
        return 1
    except InstrumentInvalid as invalid:
        print(f"haven instruments: {invalid}", file=sys.stderr)
        return 1
    print(f"haven instruments: {path} is valid:")
    print(_line(instrument))
    return 0

"""A Babel extraction method for the text the console shows but does not write as a literal:
the codebook's labels, the grounds of an erasure, the console's words for lifecycle codes,
the labels of an activity's codes and the shipped screening instruments' titles, indicator
domains and items (`locale/babel.cfg`; the pages translate them with the `tr` filter; an
organisation's own instrument is shown in the words it was written in)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from domain.outreach.codes import DELIVERY, KINDS, SECTORS
from services.commands.case_privacy import ERASURE_GROUNDS
from services.console.case_forms import LITERAL_CHOICES
from services.console.forms import codebook_labels
from services.screening.instruments import shipped_instruments


def instrument_texts() -> set[str]:
    """The titles, domains and items of the instruments shipped in the package."""
    texts = set()
    for instrument in shipped_instruments():
        texts.add(instrument.title)
        texts.update(domain.title for domain in instrument.domains)
        texts.update(item.text for item in instrument.items)
    return texts


def extract_codebook(
    fileobj: Any, keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, None, str, list[str]]]:
    words = {text for _, text in LITERAL_CHOICES}
    activity_codes = {*KINDS.values(), *SECTORS.values(), *DELIVERY.values()}
    every = {*codebook_labels(), *words, *ERASURE_GROUNDS.values(), *activity_codes}
    for text in sorted(every | instrument_texts()):
        yield 1, None, text, ["codebook"]

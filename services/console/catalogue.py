"""A Babel extraction method for the text the console shows but does not write as a literal:
the codebook's labels, the grounds of an erasure and the console's words for lifecycle codes
(`locale/babel.cfg`; the pages translate them with the `tr` filter)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from services.commands.case_privacy import ERASURE_GROUNDS
from services.console.case_forms import LITERAL_CHOICES
from services.console.forms import codebook_labels


def extract_codebook(
    fileobj: Any, keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, None, str, list[str]]]:
    words = {text for _, text in LITERAL_CHOICES}
    for text in sorted({*codebook_labels(), *words, *ERASURE_GROUNDS.values()}):
        yield 1, None, text, ["codebook"]

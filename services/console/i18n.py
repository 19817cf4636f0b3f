"""The console's interface text in English and Spanish: gettext catalogues kept by Babel.

The English text is the message id; `locale/es/LC_MESSAGES/messages.po` holds its Spanish.
The catalogue is compiled in memory when first used (no compiled `.mo` file to keep in step).
Templates call `_()` on their own literal text (Jinja's i18n extension, new style:
`_("%(n)s cases", n=count)`; its result is markup, so it never takes a variable). Python marks
the text it hands to a template with `N_()`, and the template translates it with the `tr`
filter, which escapes like any value.
Each person's language is their own: chosen in the console, kept for their next sign-in
(`services.console.preferences`); before sign-in the browser's `Accept-Language` decides.

`pybabel extract -F services/console/locale/babel.cfg -o services/console/locale/messages.pot .`
then `pybabel update -i services/console/locale/messages.pot -d services/console/locale`
bring the catalogue up to date; `tests/console/test_i18n.py` fails on a message without its
Spanish.
"""

from __future__ import annotations

import functools
import gettext
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

LANGUAGES = {"en": "English", "es": "Español"}
DEFAULT = "en"
LOCALE_DIR = Path(__file__).parent / "locale"


def N_(message: str) -> str:  # noqa: N802 (gettext's name for "translate later")
    """Marks text for the catalogue; the template that shows it translates it."""
    return message


def catalogue_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    if language not in LANGUAGES or language == DEFAULT:
        return gettext.NullTranslations()
    with catalogue_path(language).open("rb") as po:
        catalogue = read_po(po, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def chosen(language: object) -> str:
    """A language this console speaks: `language` if it is one, else the default."""
    return language if isinstance(language, str) and language in LANGUAGES else DEFAULT


def from_accept_language(header: str | None) -> str:
    """The browser's most preferred language that the console speaks (RFC 9110 §12.5.4)."""
    return next((tag for tag in _preferred(header or "") if tag in LANGUAGES), DEFAULT)


def _preferred(header: str) -> Iterator[str]:
    ranked = []
    for position, item in enumerate(header.split(",")[:20]):
        tag, _, parameters = item.strip().partition(";")
        quality = 1.0
        name, _, value = parameters.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag.strip()))
    for _, _, tag in sorted(ranked):
        yield tag.split("-")[0].lower()


def _language(context: Context) -> str:
    return chosen(context.get("language"))


@pass_context
def _gettext(context: Context, message: str) -> str:
    return translations(_language(context)).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return translations(_language(context)).ngettext(singular, plural, n)


def install(environment: Environment) -> None:
    """`_`, `gettext` and `ngettext` in the templates, and the `tr` filter, in the page's
    `language`."""
    environment.filters["tr"] = _gettext
    environment.add_extension("jinja2.ext.i18n")
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        _gettext, _ngettext, newstyle=True
    )


def translate(language: str, message: str, **variables: Any) -> str:
    """`message` in `language`, for text built outside a template."""
    text = translations(chosen(language)).gettext(message)
    return text % variables if variables else text

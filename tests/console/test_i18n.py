"""The console's two languages: the Spanish catalogue holds every message the console's
templates and code carry (extracted as `pybabel extract` does), with the same placeholders;
a person's choice of language holds for their pages and their next sign-in; before sign-in
the browser's Accept-Language decides; translated values are escaped like any other."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from jinja2 import Environment

from services.console import i18n
from tests.console.support import csrf_token

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def extracted() -> set[str | tuple[str, ...]]:
    with (i18n.LOCALE_DIR / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = extract_from_dir(str(ROOT), method_map, options_map, keywords={"N_": None, "_": None,
                             "gettext": None, "ngettext": (1, 2)})  # fmt: skip
    return {message for _, _, message, _, _ in found}


def untranslated(messages, catalogue) -> list:
    """The messages the catalogue lacks, leaves empty, or gives other placeholders."""
    faults = []
    for message in messages:
        entry = catalogue.get(message)
        strings = () if entry is None else entry.string
        strings = strings if isinstance(strings, tuple) else (strings,)
        ids = message if isinstance(message, tuple) else (message,)
        wanted = {p for text in ids for p in PLACEHOLDER.findall(text)}
        if (
            not strings
            or not all(strings)
            or any(set(PLACEHOLDER.findall(text)) != wanted for text in strings)
        ):
            faults.append(message)
    return faults


def spanish():
    with i18n.catalogue_path("es").open("rb") as po:
        return read_po(po)


def test_every_message_of_the_console_has_its_spanish() -> None:
    messages = extracted()
    assert len(messages) > 400  # the templates, the code's N_() and the codebook's labels
    assert untranslated(messages, spanish()) == []


def test_a_message_without_spanish_is_found() -> None:
    """Control: a message the catalogue lacks, and one whose placeholder is lost."""
    catalogue = spanish()
    catalogue.add("Case %(case)s was sent away.", "El caso fue enviado.")
    found = untranslated({"A message nobody translated", "Case %(case)s was sent away."}, catalogue)
    assert sorted(found) == ["A message nobody translated", "Case %(case)s was sent away."]


def test_a_translated_value_is_escaped_like_any_value() -> None:
    environment = Environment(autoescape=True)
    i18n.install(environment)
    rendered = environment.from_string("{{ value | tr }}").render(
        value="<script>alert(1)</script>", language="es"
    )
    assert rendered == "&lt;script&gt;alert(1)&lt;/script&gt;"


async def test_a_persons_language_holds_for_their_pages_and_next_sign_in(browser) -> None:
    async with browser() as user:
        await user.sign_in()
        home = await user.client.get("/console/")
        assert '<html lang="en">' in home.text and "Sign out" in home.text
        chosen = await user.client.post(
            "/console/language",
            data={"csrf_token": csrf_token(home.text), "language": "es", "next": "/console/"},
        )
        assert chosen.status_code == 303 and chosen.headers["location"] == "/console/"
        home = await user.client.get("/console/")
        assert '<html lang="es">' in home.text and "Cerrar sesión" in home.text
        intake = await user.client.get("/console/cases/new")
        assert i18n.translate("es", "Open the case") in intake.text
        await user.client.post("/console/sign-out", data={"csrf_token": csrf_token(home.text)})
    async with browser() as again:  # another browser, no cookie: the person's own choice
        await again.sign_in()
        assert '<html lang="es">' in (await again.client.get("/console/")).text


async def test_before_sign_in_the_browsers_language_decides(browser) -> None:
    for header, language in (("es-MX,es;q=0.9,en;q=0.5", "es"), ("fr, en;q=0.8, es;q=0.5", "en")):
        async with browser() as user:
            page = await user.client.get("/console/sign-in", headers={"accept-language": header})
            assert f'<html lang="{language}">' in page.text, header


async def test_a_language_form_never_sends_the_browser_elsewhere(browser) -> None:
    async with browser() as user:
        await user.sign_in()
        home = await user.client.get("/console/")
        for away in (
            "https://attacker.example/",
            "//attacker.example/",
            "/v1/cases",
            "/console\\x",
        ):
            answer = await user.client.post(
                "/console/language",
                data={"csrf_token": csrf_token(home.text), "language": "es", "next": away},
            )
            assert answer.headers["location"] == "/console/", away
        control = await user.client.post(
            "/console/language",
            data={"csrf_token": csrf_token(home.text), "language": "en", "next": "/console/team"},
        )
        assert control.headers["location"] == "/console/team"

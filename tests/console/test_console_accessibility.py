"""The console's accessibility in headless chromium (the server, browser and helpers of
`test_console_browser`): axe-core (selenium-axe-python's copy, injected through the driver)
finds no serious or critical WCAG 2.2 A/AA violation on any page of any role (a screenshot
of each under `test-output/console/`), and a case
worker opens a case through the intake form with the keyboard alone, the focus visible at
every stop. A control page with known violations shows that the check can fail.

The full tier (`HAVEN_TESTS=full`) walks every page in Spanish too.
"""

from __future__ import annotations

import re
import time

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select
from selenium_axe_python import Axe

from tests.console.test_console_browser import (
    CASELOAD_ATTEMPTS,
    SIGN_IN_BUTTON,
    chromium,
    click_and_load,
    console_url,
    open_case,
    screenshot,
    sign_in,
)
from tests.tiers import tiered

__all__ = ["console_url"]
pytestmark = pytest.mark.slow

WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING = ("serious", "critical")
INTAKE_BUTTON = "//form[@action='/console/cases']//button"
SCREENING_BUTTON = "//form[@method='post' and contains(@action, '/screenings')]//button"
ACTIVITY_BUTTON = "//form[@action='/console/activities']//button"
HARBOR_SUPERVISOR, HARBOR_PRIVACY, HARBOR_REPORTER = "account-1", "account-4", "account-6"


def violations(driver: WebDriver) -> list[dict]:
    """axe-core's serious and critical WCAG A/AA violations of the page as it stands, its
    collapsed sections opened first (so their fields are checked too)."""
    driver.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
    axe = Axe(driver)
    axe.inject()
    found = axe.run(options={"runOnly": {"type": "tag", "values": WCAG}})
    return [v for v in found["violations"] if v["impact"] in BLOCKING]


def assert_accessible(driver: WebDriver, page: str) -> None:
    found = violations(driver)
    assert not found, f"{page} ({driver.current_url}):\n{Axe.report(found)}"


def sign_in_as(driver: WebDriver, console: str, account: str) -> None:
    driver.get(f"{console}sign-in")
    driver.find_element(By.ID, account).click()
    click_and_load(driver, driver.find_element(By.CSS_SELECTOR, SIGN_IN_BUTTON))


def sign_out(driver: WebDriver) -> None:
    click_and_load(driver, driver.find_element(By.XPATH, "//form[@class='sign-out']//button"))


def choose_language(driver: WebDriver, code: str) -> None:
    Select(driver.find_element(By.ID, "language-choice")).select_by_value(code)
    click_and_load(driver, driver.find_element(By.XPATH, "//form[@class='language']//button"))


def walk(driver: WebDriver, console: str, language: str) -> list[str]:
    """Every page of every role, each checked by axe; the pages' names, in order."""
    seen = []

    def check(name: str) -> None:
        screenshot(driver, f"{language}-{name.replace(' ', '-')}")
        assert_accessible(driver, name)
        seen.append(name)

    driver.get(f"{console}sign-in")
    if language != "en":
        choose_language(driver, language)
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == language
    check("sign-in")
    driver.find_element(By.ID, "account-0").click()
    click_and_load(driver, driver.find_element(By.CSS_SELECTOR, SIGN_IN_BUTTON))
    check("caseload")
    driver.get(f"{console}cases/new")
    check("intake")
    click_and_load(driver, driver.find_element(By.XPATH, INTAKE_BUTTON))
    check("intake with errors")
    case_id = open_case_in(driver, console, language)
    check("case")
    log_any_service(driver)  # the case moves on: the form below names the version before it
    driver.execute_script(
        "document.querySelector(\"form[action$='/services'] input[name=version]\").value = '1'"
    )
    log_any_service(driver)
    assert driver.find_elements(By.CSS_SELECTOR, "ol.changes"), "not the conflict page"
    check("conflict")
    driver.get(f"{console}cases/00000000-0000-4000-8000-000000000000")
    check("not found")
    walk_screenings_and_activities(driver, console, case_id, check)
    driver.get(console)
    sign_out(driver)
    sign_in_as(driver, console, HARBOR_SUPERVISOR)
    driver.get(f"{console}team?days=0")
    check("team")
    driver.get(f"{console}activities")
    check("activities summary")
    driver.get(f"{console}screenings/summary")
    check("screening counts")
    links = driver.find_elements(By.CSS_SELECTOR, "a[href*='/reassign']")
    if links:  # the projector lists the new case within moments
        click_and_load(driver, links[0])
        check("reassign")
    sign_out(driver)
    sign_in_as(driver, console, HARBOR_PRIVACY)
    driver.get(f"{console}privacy/access-log")
    check("access log")
    driver.get(f"{console}privacy/cases/{case_id}")
    check("case access log")
    driver.get(f"{console}privacy/cases/{case_id}/erase")
    check("erase")
    sign_out(driver)
    sign_in_as(driver, console, HARBOR_REPORTER)
    driver.get(f"{console}reports")
    check("reports")
    driver.get(f"{console}reports?period=2020Q1")
    check("report not available")
    return seen


def walk_screenings_and_activities(driver: WebDriver, console: str, case_id: str, check) -> None:
    """A case worker's screening and activity pages: the forms, refused and recorded."""
    driver.get(f"{console}screenings/new")
    check("screening form")
    driver.find_element(By.ID, "f-screened-on").clear()
    click_and_load(driver, driver.find_element(By.XPATH, SCREENING_BUTTON))
    check("screening form with errors")
    driver.get(f"{console}cases/{case_id}/screenings/new")
    check("screening form of a case")
    Select(driver.find_element(By.ID, "f-setting")).select_by_value("shelter_intake")
    Select(driver.find_element(By.ID, "f-item-doc-1")).select_by_value("yes")
    click_and_load(driver, driver.find_element(By.XPATH, SCREENING_BUTTON))
    check("screening")
    driver.get(f"{console}activities/new")
    check("activity form")
    click_and_load(driver, driver.find_element(By.XPATH, ACTIVITY_BUTTON))
    check("activity form with errors")
    driver.get(f"{console}activities")
    check("activities")


def log_any_service(driver: WebDriver) -> None:
    """The case page's "log a service" form, in whichever language the page is."""
    form = driver.find_element(By.CSS_SELECTOR, "form[action$='/services']")
    Select(form.find_element(By.ID, "f-category")).select_by_value("case_management")
    click_and_load(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))


def open_case_in(driver: WebDriver, console: str, language: str) -> str:
    if language == "en":
        return open_case(driver, "Synthetic Axe Client")
    driver.get(f"{console}cases/new")
    Select(driver.find_element(By.ID, "f-intake-intake-type")).select_by_value("referral")
    Select(driver.find_element(By.ID, "f-victim-status-status")).select_by_value("confirmed")
    driver.find_element(By.ID, "f-identity-preferred-name").send_keys("Synthetic Axe Client")
    Select(driver.find_element(By.ID, "f-trafficking-trafficking-type")).select_by_value("labor")
    click_and_load(driver, driver.find_element(By.XPATH, INTAKE_BUTTON))
    return driver.current_url.rstrip("/").rsplit("/", 1)[1]


LANGUAGES = tiered(default=["en"], full=["en", "es"])


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_page_of_any_role_has_a_serious_accessibility_violation(
    console_url: str, language: str
) -> None:
    with chromium() as driver:
        pages = walk(driver, console_url, language)
        assert {"sign-in", "case", "conflict", "team", "erase", "reports"} <= set(pages)
        assert {"screening form", "screening", "activity form", "activities summary"} <= set(pages)


def test_the_accessibility_check_finds_the_violations_of_a_control_page(console_url: str) -> None:
    """Control: a page with an unlabelled field, an image without text and grey-on-white
    text fails the same check."""
    with chromium() as driver:
        driver.get(
            "data:text/html,<!doctype html><html lang=en><title>Control</title><main>"
            "<input type=text><img src=x.png>"
            "<p style='color:%23ccc;background:%23fff'>faint text</p></main></html>"
        )
        rules = {v["id"] for v in violations(driver)}
        assert {"label", "image-alt", "color-contrast"} <= rules


def focused(driver: WebDriver):
    return driver.switch_to.active_element


def press(driver: WebDriver, keys: str) -> None:
    """Keys to whatever has the focus, as a keyboard sends them (no element is focused first)."""
    ActionChains(driver).send_keys(keys).perform()


def tab_to(driver: WebDriver, matches, limit: int = 60) -> None:
    """Press Tab until the focused element `matches`; each stop's focus must be visible."""
    for _ in range(limit):
        press(driver, Keys.TAB)
        element = focused(driver)
        outline = driver.execute_script(
            "const s = getComputedStyle(arguments[0]); return [s.outlineStyle, s.outlineWidth]",
            element,
        )
        assert outline[0] != "none" and outline[1] != "0px", (outline, element.get_attribute("id"))
        if matches(element):
            return
    pytest.fail("Tab never reached the element")


def by_id(element_id: str):
    return lambda element: element.get_attribute("id") == element_id


def test_a_case_worker_opens_a_case_with_the_keyboard_alone(console_url: str) -> None:
    with chromium() as driver:
        sign_in(driver, console_url)
        tab_to(driver, lambda e: e.text == "Open a case")
        press(driver, Keys.ENTER)
        WaitFor(driver).heading("Open a case (intake)")
        for field, keys in (
            ("f-intake-intake-type", "Referral"),
            ("f-victim-status-status", "Confirmed"),
            ("f-identity-preferred-name", "Synthetic Keyboard Client"),
            ("f-trafficking-trafficking-type", "Labor"),
        ):
            tab_to(driver, by_id(field))
            press(driver, keys)
        tab_to(driver, lambda e: e.tag_name == "button" and e.text == "Open the case")
        press(driver, Keys.ENTER)
        WaitFor(driver).heading("Case Synthetic Keyboard Client")
        screenshot(driver, "keyboard-case")


class WaitFor:
    def __init__(self, driver: WebDriver) -> None:
        self.driver = driver

    def heading(self, text: str) -> None:
        for _ in range(CASELOAD_ATTEMPTS):
            headings = self.driver.find_elements(By.TAG_NAME, "h1")
            if headings and headings[0].text == text:
                return
            time.sleep(0.2)
        found = re.findall(r"<h1[^>]*>(.*?)</h1>", self.driver.page_source)
        pytest.fail(f"the page's heading is {found}, not {text!r}")

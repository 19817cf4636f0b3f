"""The console in a real browser: Debian's headless chromium, driven by selenium through
`/usr/bin/chromedriver`, against the app served by granian on a free loopback port (the
projectors running, as `haven serve` runs them). Nothing is downloaded at run time: the
driver and the browser are named by path, so selenium-manager never runs.

Each test saves a screenshot of its last page under `test-output/console/` (ignored by git).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import msgspec
import pytest
from litestar.stores.file import FileStore
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from services.bench.scratch import scratch_database
from services.console.sessions import COOKIE, Session
from tests.api.test_served import free_port, granian, until_ready

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "console"
SIGN_IN_BUTTON = "form[action='/console/sign-in'] button[type=submit]"
CASELOAD_ATTEMPTS = 60  # x 0.5 s for the projector to list a new case: bounded, not asserted
DATA_DIRS: dict[str, Path] = {}  # console address -> the served app's data directory


@pytest.fixture(scope="module")
async def console_url(
    server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """The real app under granian, on a database of its own; its console's address."""
    base = tmp_path_factory.mktemp("console-served")
    async with scratch_database(server_url) as url:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")},
            "HAVEN_DATABASE_URL": url,
            "HAVEN_DATA_DIR": str(base / "data"),
            "HAVEN_KEK": f"file:{base / 'kek'}",
        }
        port = free_port()
        log = base / "granian.log"
        with granian(port, env, log) as process:
            origin = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=origin, timeout=5.0) as client:
                await until_ready(client, process, log)
            DATA_DIRS[f"{origin}/console/"] = base / "data"
            yield f"{origin}/console/"


@contextlib.contextmanager
def chromium() -> Iterator[WebDriver]:
    assert CHROMIUM.exists() and CHROMEDRIVER.exists(), (
        "the browser tests need Debian's chromium and chromium-driver "
        "(apt-get install chromium chromium-driver; .ci/run installs them)"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1280,1100")
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()


def find_now(driver: WebDriver, by: str, value: str) -> list[WebElement]:
    """The loaded page's elements matching, found without the implicit wait (which would
    otherwise spend its whole 5 s looking for what is rightly not there)."""
    driver.implicitly_wait(0)
    try:
        return driver.find_elements(by, value)
    finally:
        driver.implicitly_wait(5)


def click_and_load(driver: WebDriver, element: WebElement) -> None:
    """Click what loads a new page, and wait (bounded) until the new page is there."""
    page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 10).until(lambda _: replaced(page))
    WebDriverWait(driver, 10).until(  # the new document whole, not a part still arriving
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


def replaced(element: WebElement) -> bool:
    """Whether the element's document is gone (chromedriver says so in two ways)."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        if "does not belong to the document" in (error.msg or ""):
            return True
        raise
    return False


def screenshot(driver: WebDriver, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def sign_in(driver: WebDriver, console: str) -> None:
    driver.get(console)  # no session yet: sent to the sign-in page
    assert driver.find_element(By.TAG_NAME, "h1").text == "Sign in"
    driver.find_element(By.ID, "account-0").click()  # the demo case worker of org-harbor
    click_and_load(driver, driver.find_element(By.CSS_SELECTOR, SIGN_IN_BUTTON))
    assert driver.find_element(By.TAG_NAME, "h1").text == "My caseload"


def open_case(driver: WebDriver, name: str) -> str:
    click_and_load(driver, driver.find_element(By.LINK_TEXT, "Open a case"))
    Select(driver.find_element(By.ID, "f-intake-intake-type")).select_by_value("referral")
    Select(driver.find_element(By.ID, "f-victim-status-status")).select_by_value("confirmed")
    driver.find_element(By.ID, "f-identity-preferred-name").send_keys(name)
    Select(driver.find_element(By.ID, "f-trafficking-trafficking-type")).select_by_value("labor")
    click_and_load(driver, driver.find_element(By.XPATH, "//button[text()='Open the case']"))
    assert driver.find_element(By.TAG_NAME, "h1").text == f"Case {name}"
    return driver.current_url.rstrip("/").rsplit("/", 1)[1]


def log_service(driver: WebDriver) -> None:
    form = driver.find_element(By.CSS_SELECTOR, "form[action$='/services']")
    Select(form.find_element(By.ID, "f-category")).select_by_value("case_management")
    click_and_load(driver, form.find_element(By.XPATH, ".//button[text()='Log the service']"))


def propose_referral(driver: WebDriver) -> None:
    form = driver.find_element(By.CSS_SELECTOR, "form[action$='/referrals']")
    Select(form.find_element(By.ID, "f-category")).select_by_value("housing_shelter")
    form.find_element(By.ID, "f-recipient").send_keys("program-synthetic-shelter")
    Select(form.find_element(By.ID, "f-purpose")).select_by_value("service_referral")
    click_and_load(driver, form.find_element(By.XPATH, ".//button[text()='Propose the referral']"))


def test_a_case_worker_opens_a_case_logs_a_service_and_finds_it_in_the_caseload(
    console_url: str,
) -> None:
    with chromium() as driver:
        sign_in(driver, console_url)
        driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
        skip = driver.switch_to.active_element
        assert skip.text == "Skip to main content"  # the first stop, shown when focused
        case_id = open_case(driver, "Synthetic Browser Client")
        log_service(driver)
        propose_referral(driver)
        timeline = driver.find_element(By.CSS_SELECTOR, "ol.timeline").text
        assert "Case opened" in timeline and "Service delivered" in timeline
        assert "Referral proposed" in timeline
        screenshot(driver, "case")
        for _ in range(CASELOAD_ATTEMPTS):
            click_and_load(driver, driver.find_element(By.LINK_TEXT, "My caseload"))
            links = find_now(driver, By.CSS_SELECTOR, f"a[href='/console/cases/{case_id}']")
            if links:
                break
            time.sleep(0.5)
        else:
            pytest.fail("the new case never reached the caseload")
        screenshot(driver, "caseload")
        click_and_load(driver, links[0])
        assert driver.find_element(By.TAG_NAME, "h1").text == "Case Synthetic Browser Client"


def test_a_second_browser_editing_the_same_case_gets_the_conflict_page(console_url: str) -> None:
    with chromium() as first, chromium() as second:
        sign_in(first, console_url)
        case_id = open_case(first, "Synthetic Shared Client")
        sign_in(second, console_url)
        second.get(f"{console_url}cases/{case_id}")
        log_service(first)  # the case moves on under the second browser's page
        log_service(second)
        assert second.find_element(By.TAG_NAME, "h1").text == "Someone changed this case"
        assert "Service delivered" in second.find_element(By.CSS_SELECTOR, "ol.changes").text
        screenshot(second, "conflict")
        click_and_load(second, second.find_element(By.LINK_TEXT, "Reload the case"))
        assert "Service delivered" in second.find_element(By.CSS_SELECTOR, "ol.timeline").text


def test_a_form_posted_without_its_csrf_token_is_refused(console_url: str) -> None:
    with chromium() as driver:
        sign_in(driver, console_url)
        click_and_load(driver, driver.find_element(By.LINK_TEXT, "Open a case"))
        driver.find_element(By.ID, "f-identity-preferred-name").send_keys("Synthetic Forged")
        # What a forged cross-site form would lack: the session's token.
        driver.execute_script(
            "document.querySelector(\"form[action='/console/cases'] input[name=csrf_token]\")"
            ".remove()"
        )
        click_and_load(driver, driver.find_element(By.XPATH, "//button[text()='Open the case']"))
        assert driver.find_element(By.TAG_NAME, "h1").text == "This form has expired"
        assert "Synthetic Forged" not in driver.page_source
        screenshot(driver, "csrf-refused")


async def test_an_idle_session_expires_in_the_browser(console_url: str) -> None:
    """The server's session is moved past the idle timeout (its stored last use set back, as
    the clock would), and the next page is the sign-in page."""
    with chromium() as driver:
        sign_in(driver, console_url)
        session_id = driver.get_cookie(COOKIE)["value"]
        store = FileStore(DATA_DIRS[console_url] / "console-sessions")
        key = hashlib.sha256(session_id.encode()).hexdigest()
        session = msgspec.json.decode(await store.get(key), type=Session)
        click_and_load(driver, driver.find_element(By.LINK_TEXT, "My caseload"))
        assert driver.find_element(By.TAG_NAME, "h1").text == "My caseload"  # control: in use
        idle = msgspec.structs.replace(session, seen=session.seen - 16 * 60)  # default 15 min
        await store.set(key, msgspec.json.encode(idle))
        click_and_load(driver, driver.find_element(By.LINK_TEXT, "My caseload"))
        assert driver.find_element(By.TAG_NAME, "h1").text == "Sign in"
        assert await store.get(key) is None  # the idle session is gone from the server

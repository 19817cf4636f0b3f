"""A transfer asked in headless chromium (the server, browser and helpers of
`test_console_browser`): the case worker records the client's consent, chooses the receiving
partner organisation, then picks the receiving worker from that organisation's active workers
(never typing an id), and the case shows the transfer awaiting its answer. axe finds no
serious or critical WCAG violation on the second step or on the case after. Saves
`test-output/console/transfer.png` (the second step).

The organisations are kept through the served API by their administrators (tokens of the
server's own local issuer). Every organisation and person here is synthetic.
"""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select

from services.identity import LocalIssuer
from tests.console.test_console_accessibility import assert_accessible
from tests.console.test_console_browser import (
    DATA_DIRS,
    chromium,
    click_and_load,
    console_url,
    find_now,
    open_case,
    screenshot,
    sign_in,
)

__all__ = ["console_url"]
pytestmark = pytest.mark.slow

HARBOR, LANTERN = "org-harbor", "org-lantern"  # the signed-in case worker's, and its partner
TEAM = "team-lantern-east"
ANA, BO = "worker-lantern-ana", "worker-lantern-bo"


def keep_organisations(console: str) -> None:
    """Lantern uses Haven here with two workers, one of them inactive; it is Harbor's partner."""
    issuer = LocalIssuer.open(DATA_DIRS[console])
    with httpx.Client(base_url=console.removesuffix("console/"), timeout=10.0) as api:

        def change(org: str, path: str, body: dict) -> None:
            token = issuer.mint(f"admin-{org.removeprefix('org-')}", org, ["admin"])
            headers = {"Authorization": f"Bearer {token}"}
            version = api.get("/v1/organisation", headers=headers).headers["etag"]
            if version != '"0"':
                headers["If-Match"] = version
            method = api.put if path == "profile" else api.post
            answer = method(f"/v1/organisation/{path}", json=body, headers=headers)
            assert answer.status_code == 200, answer.text

        change(LANTERN, "profile", {"display_name": "Example Lantern Services"})
        change(LANTERN, "teams", {"team_id": TEAM, "name": "East"})
        for worker_id, name, active in ((ANA, "Example Ana", True), (BO, "Example Bo", False)):
            worker = {"worker_id": worker_id, "display_name": name, "team_id": TEAM}
            change(LANTERN, "workers", {**worker, "active": active})
        partner = {"partner_id": LANTERN, "display_name": "Example Lantern", "direction": "both"}
        change(HARBOR, "partners", partner)


def unfold(driver: WebDriver, form: str) -> None:
    """Open a case form's folded section, as a person clicks its heading."""
    driver.find_element(By.ID, f"form-{form}").click()


def record_transfer_consent(driver: WebDriver) -> None:
    unfold(driver, "consent")
    driver.find_element(By.ID, "f-consent-recipient-organisation").send_keys(LANTERN)
    Select(driver.find_element(By.ID, "f-consent-purpose")).select_by_value("case_transfer")
    for checkbox in (
        "f-consent-data-categories-identity",
        "f-consent-written",
        "f-consent-revocation-explained",
    ):
        driver.find_element(By.ID, checkbox).click()
    day = dt.date.today() + dt.timedelta(days=180)  # a consent lasts at most 366 days
    expires = driver.find_element(By.ID, "f-consent-expires-on")
    expires.send_keys(day.strftime("%m%d%Y"))  # as a person types it: month, day, year
    assert expires.get_attribute("value") == day.isoformat()
    click_and_load(driver, driver.find_element(By.XPATH, "//button[text()='Record the consent']"))
    refusals = [e.text for e in find_now(driver, By.CSS_SELECTOR, "[role=alert]")]
    assert "Consent recorded" in driver.find_element(By.CSS_SELECTOR, "ol.timeline").text, refusals


def test_a_case_worker_picks_the_receiving_worker_from_the_partners_list(
    console_url: str,
) -> None:
    keep_organisations(console_url)
    with chromium() as driver:
        sign_in(driver, console_url)
        case_id = open_case(driver, "Synthetic Transfer Client")
        record_transfer_consent(driver)
        unfold(driver, "transfer")
        assert not find_now(driver, By.ID, "f-transfer-receiving-worker-id")
        Select(driver.find_element(By.ID, "f-transfer-recipient-organisation")).select_by_value(
            LANTERN
        )
        click_and_load(driver, driver.find_element(By.XPATH, "//button[text()='Show its workers']"))
        assert f"transfer_to={LANTERN}" in driver.current_url
        workers = Select(driver.find_element(By.ID, "f-transfer-receiving-worker-id"))
        offered = [o.text for o in workers.options if o.get_attribute("value")]
        assert offered == ["Example Ana (East)"]  # the inactive worker is not offered
        assert not find_now(driver, By.ID, "f-transfer-receiving-team-id")  # the worker's
        assert_accessible(driver, "transfer, second step")
        driver.execute_script("document.getElementById('form-transfer').scrollIntoView()")
        screenshot(driver, "transfer")
        workers.select_by_visible_text("Example Ana (East)")
        consents = Select(driver.find_element(By.ID, "f-transfer-consent-id"))
        consents.select_by_index(1)  # the one consent in force, after "Choose…"
        click_and_load(
            driver, driver.find_element(By.XPATH, "//button[text()='Ask for the transfer']")
        )
        # recorded: sent back to the case page (the form's #form-transfer carried along)
        assert driver.current_url.split("#")[0].endswith(f"/cases/{case_id}")
        assert "Transfer requested" in driver.find_element(By.CSS_SELECTOR, "ol.timeline").text
        pending = driver.find_element(By.ID, "pending-transfer").text
        assert LANTERN in pending and ANA in pending and TEAM in pending
        assert BO not in driver.page_source
        assert_accessible(driver, "case with a transfer asked")

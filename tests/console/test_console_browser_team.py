"""The supervisor's team page in headless chromium (the server, browser and helpers of
`test_console_browser`): a case opened with a canary name reaches the team's figures, and the
page's source holds no survivor data. Saves `test-output/console/team.png`."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By

from tests.console.test_console_browser import (
    CASELOAD_ATTEMPTS,
    SIGN_IN_BUTTON,
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

CANARY = "Canary Brightwater"  # survivor data: must never reach a supervisor's page
HARBOR_SUPERVISOR = "account-1"  # the sign-in page's second person


def test_a_supervisors_team_page_shows_the_figures_and_no_survivor_data(
    console_url: str,
) -> None:
    with chromium() as worker:
        sign_in(worker, console_url)
        case_id = open_case(worker, CANARY)
    with chromium() as driver:
        driver.get(console_url)
        driver.find_element(By.ID, HARBOR_SUPERVISOR).click()
        click_and_load(driver, driver.find_element(By.CSS_SELECTOR, SIGN_IN_BUTTON))
        for _ in range(CASELOAD_ATTEMPTS):  # the projector lists the new case in a moment
            click_and_load(driver, driver.find_element(By.LINK_TEXT, "My team"))
            if find_now(driver, By.ID, "chart-workload") and "1 open case" in (driver.page_source):
                break
            time.sleep(0.5)
        else:
            pytest.fail("the new case never reached the team's caseload")
        assert driver.find_element(By.TAG_NAME, "h1").text == "My team's caseload"
        chart = driver.find_element(By.ID, "chart-workload")
        assert chart.get_attribute("role") == "img"
        source = driver.page_source
        assert CANARY not in source and "Brightwater" not in source
        assert case_id not in source  # contact today: not among the cases without one
        screenshot(driver, "team")

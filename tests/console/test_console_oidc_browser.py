"""The sign-in at an identity provider in a real browser (Debian's headless chromium): the
provider (`tests.console.oidc_provider`) on `localhost`, the console served by granian on
`127.0.0.1`, so that the provider's redirect back is a cross-site navigation, which carries no
`SameSite=Strict` cookie, as in production."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from services.bench.scratch import scratch_database
from tests.api.test_served import free_port, granian, until_ready
from tests.console.oidc_provider import API_AUDIENCE, CLIENT_ID, OidcProvider
from tests.console.test_console_browser import chromium, click_and_load, screenshot

pytestmark = pytest.mark.slow


async def test_a_browser_signs_in_at_the_provider_and_lands_on_its_caseload(
    server_url: str, tmp_path: Path
) -> None:
    port = free_port()
    console = f"http://127.0.0.1:{port}"
    callback = f"{console}/console/sign-in/callback"
    with OidcProvider(redirect_uri=callback, host="localhost") as idp:
        idp.interactive = True  # the way back starts on the provider's page, as it does
        async with scratch_database(server_url) as url:
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")},
                "HAVEN_DATABASE_URL": url,
                "HAVEN_DATA_DIR": str(tmp_path / "data"),
                "HAVEN_KEK": f"file:{tmp_path / 'kek'}",
                "HAVEN_OIDC_ISSUER": idp.issuer,
                "HAVEN_OIDC_AUDIENCE": API_AUDIENCE,
                "HAVEN_OIDC_JWKS_URL": idp.jwks_url,
                "HAVEN_OIDC_CLIENT_ID": CLIENT_ID,
                "HAVEN_CONSOLE_URL": console,
            }
            log = tmp_path / "granian.log"
            with granian(port, env, log) as process:
                async with httpx.AsyncClient(base_url=console, timeout=5.0) as client:
                    await until_ready(client, process, log)
                with chromium() as driver:
                    driver.get(f"{console}/console/")
                    assert driver.find_element(By.TAG_NAME, "h1").text == "Sign in"
                    link = driver.find_element(
                        By.LINK_TEXT, "Sign in with your organisation's account"
                    )
                    click_and_load(driver, link)  # the provider's page
                    button = driver.find_element(By.XPATH, "//button[text()='Continue']")
                    click_and_load(driver, button)  # the provider sends the browser back
                    WebDriverWait(driver, 10).until(lambda d: d.title.startswith("My caseload"))
                    screenshot(driver, "oidc-caseload")
                    header = driver.find_element(By.CSS_SELECTOR, ".who").text
                    assert header.startswith("Signed in as worker-sso-1")
                    assert driver.current_url == f"{console}/console/"

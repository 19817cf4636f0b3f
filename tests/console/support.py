"""A browser's view of the console over httpx: forms filled the way a person would."""

from __future__ import annotations

import html
import re
import time

import httpx

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')
# The demo people the sign-in page lists, in its order (services.console.sign_in).
HARBOR_WORKER, HARBOR_SUPERVISOR, LANTERN_WORKER = "0", "1", "2"
HARBOR_PRIVACY, HARBOR_REPORTER = "4", "6"  # privacy officers, then reporters, after the others
HARBOR_OUTREACH = "8"  # outreach staff, after the reporters
SECURITY_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


class Clock:
    """The console's clock, moved by the tests (never slept on)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += minutes * 60


def csrf_token(page: str) -> str:
    found = CSRF.search(page)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def hidden_fields(page: str, action: str) -> dict[str, str]:
    """The hidden fields of the form posting to `action`."""
    start = page.index(f'action="{action}"')
    form = page[start : page.index("</form>", start)]
    return {name: html.unescape(value) for name, value in HIDDEN.findall(form)}


def intake(preferred_name: str = "Client Example", **overrides: str) -> dict[str, str]:
    return {
        "intake.intake_on": "2026-01-05",
        "intake.intake_type": "referral",
        "victim_status.status": "strong_indicators",
        "victim_status.determined_on": "2026-01-05",
        "victim_status.determined_by": "worker-harbor-intake-1",
        "identity.preferred_name": preferred_name,
        "trafficking.trafficking_type": "labor",
        **overrides,
    }


def assert_security_headers(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.request.url.path)


class ConsoleUser:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def sign_in(self, account: str = HARBOR_WORKER) -> httpx.Response:
        form = await self.client.get("/console/sign-in")
        return await self.client.post(
            "/console/sign-in", data={"csrf_token": csrf_token(form.text), "account": account}
        )

    async def open_case(self, preferred_name: str = "Client Example", **fields: str) -> str:
        """Intake through the form; the new case's id."""
        form = await self.client.get("/console/cases/new")
        answer = await self.client.post(
            "/console/cases",
            data={**hidden_fields(form.text, "/console/cases"), **intake(preferred_name, **fields)},
        )
        assert answer.status_code == 303, answer.text
        return answer.headers["location"].rsplit("/", 1)[1]

    async def log_service(self, case_id: str, page: str | None = None, **fields: str):
        """The "log a service" form of the case page (`page`: as rendered earlier)."""
        if page is None:
            page = (await self.client.get(f"/console/cases/{case_id}")).text
        action = f"/console/cases/{case_id}/services"
        return await self.client.post(
            action,
            data={
                **hidden_fields(page, action),
                "category": "case_management",
                "delivered_on": "2026-01-12",
                "units": "1",
                **fields,
            },
        )

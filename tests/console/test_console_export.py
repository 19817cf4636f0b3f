"""The privacy officer's link to a case's export in the console: the printable document,
downloaded, recorded first; a case worker gets the console's "nothing here" page."""

from __future__ import annotations

from tests.console.support import HARBOR_PRIVACY
from tests.console.test_console_privacy import NAME, PRIVACY, access_parts, read_case


async def test_the_case_access_page_links_the_export_which_is_recorded(browser, runtime):
    case_id = await read_case(browser)
    async with browser() as worker:  # attack: the assigned worker asks for the whole record
        await worker.sign_in()
        refused = await worker.client.get(f"/console/privacy/cases/{case_id}/export")
        assert refused.status_code == 404 and NAME not in refused.text
    assert all(part != "export" for _, part, _ in await access_parts(runtime, case_id))
    async with browser() as officer:  # control: the organisation's privacy officer
        await officer.sign_in(HARBOR_PRIVACY)
        page = (await officer.client.get(f"/console/privacy/cases/{case_id}")).text
        assert f'href="/console/privacy/cases/{case_id}/export"' in page
        document = await officer.client.get(f"/console/privacy/cases/{case_id}/export")
        assert document.status_code == 200
        assert document.headers["content-type"].startswith("text/html")
        assert document.headers["content-disposition"].startswith("attachment;")
        assert NAME in document.text and "<script" not in document.text
    assert (await access_parts(runtime, case_id))[-1] == (PRIVACY, "export", None)

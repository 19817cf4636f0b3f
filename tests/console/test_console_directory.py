"""The case page's directory search: a case worker finds services other organisations publish,
and "Refer here" fills the referral form in. Nothing of the case is in the search's address.
All organisations, services and people are synthetic."""

from __future__ import annotations

import html
import re

from domain.directory import taxonomy
from domain.directory.hsds import (
    Attribute,
    Language,
    Location,
    Organization,
    Service,
    ServiceArea,
    ServiceAtLocation,
    ServiceRecord,
    TaxonomyTerm,
)
from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.commands.ports import Actor
from services.directory.listing import publish
from tests.conftest import empty_log_and_read_models

NAME = "Synthetic Quillfeather"


def legal_help(name: str, state: str, language: str, confidential: bool = False) -> ServiceRecord:
    return ServiceRecord(
        organization=Organization(id="org-legal-aid", name="Example Legal Aid of Springfield"),
        service=Service(
            name=name,
            service_areas=[ServiceArea(extent=f"US-{state}")],
            languages=[Language(code=language)],
            fees_description="Free of charge.",
            attributes=[
                Attribute(
                    taxonomy_term=TaxonomyTerm(code="legal_immigration", taxonomy=taxonomy.CATEGORY)
                )
            ],
            service_at_locations=[
                ServiceAtLocation(
                    location=Location(name="Example office", confidential=confidential)
                )
            ],
        ),
    )


async def test_a_worker_finds_a_service_and_refers_to_it(browser, runtime) -> None:  # noqa: ANN001
    await empty_log_and_read_models(runtime.pool)
    lantern = Actor("admin-lantern", "org-lantern")
    await publish(runtime.store, lantern, legal_help("Immigration legal help", "IL", "es"))
    await publish(runtime.store, lantern, legal_help("Visa clinic in Indiana", "IN", "en"))
    await rebuild(
        runtime.store,
        runtime.pool,
        projection_factories(runtime.keyring, runtime.store)["directory"],
    )
    async with browser() as user:
        await user.sign_in()
        case_id = await user.open_case(NAME)
        page = (await user.client.get(f"/console/cases/{case_id}")).text
        assert "Find a service to refer to" in page
        assert f'action="/console/cases/{case_id}/directory#directory"' in page
        found = await user.client.get(
            f"/console/cases/{case_id}/directory",
            params={"category": "legal_immigration", "state": "IL", "language": "es"},
        )
        assert found.status_code == 200, found.text
        assert "Immigration legal help" in found.text and "Visa clinic" not in found.text
        assert NAME in found.text  # the case page itself, read as any view of it
        link = re.search(r'href="([^"]+refer=[^"]+)"', found.text)
        assert link is not None
        assert NAME.split()[1] not in link.group(1)
        prefilled = await user.client.get(html.unescape(link.group(1)).split("#")[0])
        assert prefilled.status_code == 200
        form = prefilled.text.split('id="propose-referral"', 1)[1].split("</form>", 1)[0]
        assert 'value="org-legal-aid"' in form  # the recipient: the providing organisation
        assert re.search(r'<option value="external" selected>', form)
        assert re.search(r'<option value="legal_immigration" selected>', form)
        refused = await user.client.get(
            f"/console/cases/{case_id}/directory", params={"state": "ZZ"}
        )
        assert refused.status_code == 200 and "A filter is not valid" in refused.text
        nothing = await user.client.get(
            f"/console/cases/{case_id}/directory", params={"state": "WI"}
        )
        assert "No service matches these filters." in nothing.text


async def test_the_search_page_answers_as_reading_the_case(browser, runtime) -> None:  # noqa: ANN001
    """Another worker's case: the directory page is refused as the case page is (403)."""
    await empty_log_and_read_models(runtime.pool)
    async with browser() as owner, browser() as other:
        await owner.sign_in()
        case_id = await owner.open_case(NAME)
        await other.sign_in("2")  # a worker of another organisation
        page = await other.client.get(f"/console/cases/{case_id}")
        search = await other.client.get(f"/console/cases/{case_id}/directory")
        assert search.status_code == page.status_code != 200
        assert NAME not in search.text

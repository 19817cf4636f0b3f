"""What an organisation offers to its partners (`domain.organisation.events.Organisation`):
its active workers by name, its active partners, and whether it uses this deployment (it has
a profile). Pure: organisations folded from their events. Every name is synthetic."""

from __future__ import annotations

from msgspec.structs import replace

from domain.organisation.events import (
    OrganisationPartnerSet,
    OrganisationProfileSet,
    OrganisationWorkerSet,
    Partner,
    Profile,
    Worker,
    fold_organisation,
)

ZED = Worker(worker_id="w-1", display_name="Example Zed", team_id="default")
ANA = Worker(worker_id="w-2", display_name="Example Ana", team_id="default")
BO = Worker(worker_id="w-3", display_name="Example Bo", team_id="default")
LANTERN = Partner(partner_id="org-lantern", display_name="Lantern", direction="both")


def test_active_workers_by_name_and_partners_while_active() -> None:
    events = [
        OrganisationWorkerSet(worker=ZED),
        OrganisationWorkerSet(worker=ANA),
        OrganisationWorkerSet(worker=BO),
        OrganisationWorkerSet(worker=replace(BO, active=False)),
        OrganisationPartnerSet(partner=LANTERN),
    ]
    organisation = fold_organisation(enumerate(events, start=1))
    assert organisation.active_workers() == [ANA, ZED]  # Bo deactivated; by display name
    assert organisation.active_partner("org-lantern") == LANTERN
    assert organisation.active_partner("org-meadow") is None
    ended_partnership = OrganisationPartnerSet(partner=replace(LANTERN, active=False))
    ended = fold_organisation(enumerate([*events, ended_partnership], start=1))
    assert ended.active_partner("org-lantern") is None  # kept, but no longer a partner
    assert "org-lantern" in ended.partners


def test_an_organisation_uses_this_deployment_once_it_has_a_profile() -> None:
    named_only = fold_organisation(enumerate([OrganisationWorkerSet(worker=ANA)], start=1))
    assert not named_only.in_deployment
    profiled = OrganisationProfileSet(profile=Profile(display_name="Example Lantern"))
    assert fold_organisation([(1, profiled)]).in_deployment

"""Whom a transfer may name as its receiving worker: the active workers of a partner
organisation, listed to the sender so that it picks one instead of typing an id that only
the partner knows.

A partner is listed when it is an active partner of the caller's organisation and has a
profile in this deployment (`Organisation.in_deployment`, as
`projections.organisations.is_partner_in_deployment` decides); anything else, an organisation
that is no partner, an unknown one or one outside Haven alike, is `UnknownPartner`, which
says nothing about whether the organisation exists. The list is read from the partner's own
stream, as `services.organisations.assignable.check_assignable` reads it, so that every
worker listed is one a transfer may name. Staff data only: ids, names and teams.
"""

from __future__ import annotations

from domain.organisation.events import Organisation, Worker
from events.store import PostgresEventStore
from services.organisations.command import read_organisation


class UnknownPartner(Exception):
    """No active partner of the caller's organisation in this deployment has this id."""


async def partner_directory(
    store: PostgresEventStore, organisation_id: str, partner_id: str
) -> Organisation:
    """`organisation_id`'s partner `partner_id` as its administrator keeps it, to read its
    worker directory from (`UnknownPartner` unless it is an active partner in this
    deployment)."""
    own = await read_organisation(store, organisation_id)
    if own.active_partner(partner_id) is None:  # its id is an identifier the rules checked
        raise UnknownPartner()
    theirs = await read_organisation(store, partner_id)
    if not theirs.in_deployment:
        raise UnknownPartner()
    return theirs


async def partner_workers(
    store: PostgresEventStore, organisation_id: str, partner_id: str
) -> list[Worker]:
    """The active workers of `organisation_id`'s partner `partner_id`, by display name."""
    return (await partner_directory(store, organisation_id, partner_id)).active_workers()

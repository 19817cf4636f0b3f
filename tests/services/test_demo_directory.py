"""The demo's service directory: every listing is valid, the shelters are confidential and
listed without an address, and a demo case worker finds a service of each category offered."""

from __future__ import annotations

import random

from domain.directory.rules import public_record, record_faults
from services.demo.directory import OFFERS, demo_listing
from services.demo.organisations import DEFAULT_ORGANISATIONS


def test_every_demo_listing_is_valid_and_shelters_have_no_address() -> None:
    rng = random.Random(0)
    for organisation_id in DEFAULT_ORGANISATIONS:
        for index in range(len(OFFERS)):
            record = demo_listing(organisation_id, index, rng)
            assert record_faults(record) == []
            assert public_record(record) == record
            for placed in record.service.service_at_locations:
                if placed.location.confidential:
                    assert placed.location.addresses == []

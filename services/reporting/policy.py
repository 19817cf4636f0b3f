"""Reading and setting the disclosure policy (`domain.reporting.policy`) in the database.

`current_policy` reads the one row of ``dp.policy`` (any role may). `set_policy` is the
administrator's: in one transaction it records a `DisclosurePolicySet` event in the
deployment's policy stream and updates the row — which only the database owner may do, so
run it with `HAVEN_DATABASE_URL` naming the owner; the application's own role is refused
(`PolicyNotAllowed`). The database enforces the row on every DP release (`dp.record_release`).
"""

from __future__ import annotations

import uuid

import asyncpg

from domain.event import EventMetadata
from domain.reporting.policy import DisclosurePolicy, DisclosurePolicySet, policy_faults
from events.store import Connection, PostgresEventStore

POLICY_TENANT = "deployment"
POLICY_STREAM = uuid.uuid5(uuid.NAMESPACE_URL, "https://haven.example/streams/disclosure-policy")


class PolicyError(Exception):
    """A policy that cannot be set; the message names the rule."""


class PolicyNotAllowed(PolicyError):
    """The connecting role may not change the policy (only the database owner may)."""


async def current_policy(conn: Connection | asyncpg.Pool) -> DisclosurePolicy:
    row = await conn.fetchrow(
        "SELECT lifetime_epsilon, max_epsilon_per_release, requester_budget, noise_floor "
        "FROM dp.policy"
    )
    return DisclosurePolicy(
        lifetime_epsilon=row[0],
        max_epsilon_per_release=row[1],
        requester_budget=row[2],
        noise_floor=row[3],
    )


async def set_policy(store: PostgresEventStore, policy: DisclosurePolicy, set_by: str) -> None:
    faults = policy_faults(policy)
    if faults:
        raise PolicyError("; ".join(faults))
    event = DisclosurePolicySet(
        lifetime_epsilon=policy.lifetime_epsilon,
        max_epsilon_per_release=policy.max_epsilon_per_release,
        requester_budget=policy.requester_budget,
        noise_floor=policy.noise_floor,
        set_by=set_by,
    )
    version = await store.stream_version(POLICY_TENANT, POLICY_STREAM)
    try:
        async with store.transaction() as conn:
            await store.append(
                POLICY_TENANT,
                POLICY_STREAM,
                version,
                [event],
                EventMetadata(actor_id=set_by),
                connection=conn,
            )
            await conn.execute(
                """UPDATE dp.policy SET lifetime_epsilon = $1, max_epsilon_per_release = $2,
                          requester_budget = $3, noise_floor = $4, set_by = $5, set_at = now()""",
                policy.lifetime_epsilon,
                policy.max_epsilon_per_release,
                policy.requester_budget,
                policy.noise_floor,
                set_by,
            )
    except asyncpg.InsufficientPrivilegeError:
        raise PolicyNotAllowed(
            "only the database owner may set the disclosure policy: run this with "
            "HAVEN_DATABASE_URL naming the owner role"
        ) from None

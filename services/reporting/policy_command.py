"""`haven report policy show|set`: the disclosure policy, as an administrator reads and sets it."""

from __future__ import annotations

import argparse
import sys

import msgspec

from services.bootstrap import runtime
from services.reporting.policy import PolicyError, current_policy, set_policy
from services.settings import Settings

_FLAGS = {
    "lifetime_epsilon": "lifetime",
    "max_epsilon_per_release": "per_release",
    "requester_budget": "requester_budget",
    "noise_floor": "noise_floor",
}


async def run_policy_command(settings: Settings, url: str, args: argparse.Namespace) -> int:
    async with runtime(settings, url) as rt:
        policy = await current_policy(rt.pool)
        if args.policy_command == "set":
            changed = {
                field: getattr(args, flag)
                for field, flag in _FLAGS.items()
                if getattr(args, flag) is not None
            }
            try:
                await set_policy(rt.store, msgspec.structs.replace(policy, **changed), args.by)
            except PolicyError as error:
                print(f"haven report policy: {error}", file=sys.stderr)
                return 2
            policy = await current_policy(rt.pool)
        row = await rt.pool.fetchrow("SELECT set_by, set_at FROM dp.policy")
    for field in _FLAGS:
        print(f"{field:24s} {getattr(policy, field).normalize()}")
    print(f"{'set_by':24s} {row['set_by']} at {row['set_at'].isoformat()}")
    return 0

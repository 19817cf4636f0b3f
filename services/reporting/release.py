"""A federal release asked for by a signed-in person: the one use case behind
`GET /v1/reports/federal` and the console's report pages.

`federal_release` authorises the caller (`Action.REPORT_FEDERAL`; `org` only their own
organisation), holds an epsilon to the deployment's disclosure policy, runs the reporting job
(`services.reporting.job`) or its differential-privacy mode (`services.reporting.dp_report`),
and records a refusal for the privacy officer (`services.reporting.refusals`). What cannot be
answered is one of two errors, each saying no more than the edges may show: `ReleaseInvalid`
(a field the caller should correct) and `ReleaseUnanswered` (unavailable, refused, or released
in the other mode; a refusal's text is the fixed sentence with its reference).

Asking again for a period and mode already released returns the same document: the job returns
a released period as stored, and a DP release is cached by its definition and counts.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg

from domain.reporting.families import ROLL_UP
from services.authorisation import Action, Forbidden, require
from services.identity import Principal
from services.reporting.access import (
    InvalidPeriod,
    ModeConflict,
    PeriodUnavailable,
    ReportError,
)
from services.reporting.dp import Requester
from services.reporting.dp_report import run_dp_report
from services.reporting.job import FederalReportJob
from services.reporting.policy import current_policy
from services.reporting.refusals import REFUSALS, public_text, record_refusal

REFUSED, UNAVAILABLE, MODE_CONFLICT = "report-refused", "report-unavailable", "report-mode-conflict"
TITLES = {
    REFUSED: "Report refused",
    UNAVAILABLE: "Report not available",
    MODE_CONFLICT: "Released in the other mode",
}


class ReleaseInvalid(Exception):
    """A parameter to correct: `key` is `period` or `dp_epsilon`; `most` is the policy's
    largest epsilon per release when `dp_epsilon` is above it."""

    def __init__(self, key: str, message: str, most: Decimal | None = None) -> None:
        super().__init__(message)
        self.key, self.message, self.most = key, message, most


class ReleaseUnanswered(Exception):
    """No document: `slug` is one of `REFUSED`, `UNAVAILABLE`, `MODE_CONFLICT`; `detail` is
    the sentence the requester reads (for a refusal, the fixed one with its reference)."""

    def __init__(self, slug: str, detail: str) -> None:
        super().__init__(detail)
        self.slug, self.detail = slug, detail

    @property
    def title(self) -> str:
        return TITLES[self.slug]


def requester_of(principal: Principal) -> Requester:
    return Requester(
        principal.organisation_id, ",".join(sorted(principal.roles)), principal.user_id
    )


async def federal_release(
    pool: asyncpg.Pool,
    reporting_url: str,
    principal: Principal,
    period: str,
    org: str | None = None,
    dp_epsilon: Decimal | None = None,
) -> dict[str, Any]:
    """The federal release of `period` for `org` (None: the roll-up), suppressed (k = 11),
    or with differential privacy spending `dp_epsilon`, as the JSON document the API answers.

    `Forbidden` unless the caller is a reporter asking for the roll-up or their own
    organisation; `ReleaseInvalid` or `ReleaseUnanswered` when there is no document."""
    require(principal, Action.REPORT_FEDERAL, None)
    if org is not None and org != principal.organisation_id:
        raise Forbidden()
    if dp_epsilon is not None:
        if not dp_epsilon.is_finite() or dp_epsilon <= 0:
            raise ReleaseInvalid("dp_epsilon", "must be greater than 0")
        most = (await current_policy(pool)).max_epsilon_per_release
        if dp_epsilon > most:
            raise ReleaseInvalid(
                "dp_epsilon",
                f"at most {most.normalize()} per release under this deployment's disclosure policy",
                most=most.normalize(),
            )
    requester = requester_of(principal)
    try:
        if dp_epsilon is not None:
            return await run_dp_report(
                reporting_url, period, org, epsilon=dp_epsilon, requester=requester
            )
        return await FederalReportJob(reporting_url).run(period, org)
    except REFUSALS as error:  # why goes to the privacy officer; the requester gets a reference
        reference = await record_refusal(
            pool,
            error,  # type: ignore[arg-type]
            period=period,
            scope=org or ROLL_UP,
            requester=requester,
        )
        raise ReleaseUnanswered(REFUSED, public_text(reference)) from None
    except InvalidPeriod as error:
        raise ReleaseInvalid("period", str(error)) from None
    except PeriodUnavailable as error:
        raise ReleaseUnanswered(UNAVAILABLE, str(error)) from None
    except ModeConflict as error:
        raise ReleaseUnanswered(MODE_CONFLICT, str(error)) from None
    except ReportError as error:
        raise ReleaseUnanswered(REFUSED, str(error).split(":", 1)[0]) from None

"""Releases of information and referrals in the demo: who a client's data goes to, under
which signed consent, and how each referral moves until it ends.

An external referral goes under a release in force for its recipient, purpose and data (one
is signed when none is); each referral follows a path to a drawn target status, and is
ended before a case closes or moves.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable

from domain.case import commands as cmd
from domain.case.lifecycles import REFERRAL_TRANSITIONS
from domain.case.state import CaseState
from services.demo.agenda import PlannedStream
from services.demo.care import CarePlanner
from services.demo.draws import draw_day, draw_some, draw_weighted
from services.demo.partners import PARTNERS


def referral_path(rng: random.Random, target: str) -> list[tuple[str, str | None]]:
    """The (status, reason) changes that take a proposed referral to `target`."""
    sent, accepted, in_progress = ("sent", None), ("accepted", None), ("in_progress", None)
    # (`consent_revoked` comes from the domain itself, when a consent a referral relies on is
    # revoked)
    revoke_reason = draw_weighted(
        rng, {"client_request": 45, "safety_concern": 20, "entered_in_error": 10, "other": 25}
    )
    return {
        "proposed": [],
        "sent": [sent],
        "accepted": [sent, accepted],
        "declined": [
            sent,
            (
                "declined",
                draw_weighted(
                    rng,
                    {
                        "no_capacity": 35,
                        "not_eligible": 20,
                        "client_declined": 20,
                        "unreachable": 15,
                        "duplicate": 5,
                        "other": 5,
                    },
                ),
            ),
        ],
        "in_progress": [sent, accepted, in_progress],
        "completed": [
            sent,
            accepted,
            *([in_progress] if rng.random() < 0.7 else []),
            ("completed", None),
        ],
        "revoked": [
            *rng.choice(([], [sent], [sent, accepted], [sent, accepted, in_progress])),
            ("revoked", revoke_reason),
        ],
        "expired": [*rng.choice(([], [sent], [sent, accepted])), ("expired", None)],
    }[target]


def days_before(rng: random.Random, status: str) -> int:
    """Days a referral waits before it moves to `status`."""
    low, high = {
        "sent": (0, 3),
        "accepted": (1, 10),
        "declined": (1, 14),
        "in_progress": (1, 10),
        "completed": (14, 120),
        "revoked": (3, 60),
        "expired": (30, 90),
    }[status]
    return rng.randint(low, high)


class ReferralPlanner(CarePlanner):
    """Plans the consents a case's referrals rely on, and the referrals themselves."""

    def grant_consent(
        self,
        stream: PlannedStream,
        day: dt.date,
        recipient: str,
        purpose: str,
        categories: Iterable[str],
        days: int,
        *,
        revocable: bool = True,
    ) -> str:
        rng = self.rng
        consent_id = stream.next_id("consent")
        age = stream.state.age_on(day)
        self.do(
            stream,
            "record_consent",
            self.actor(stream),
            cmd.GrantConsent(
                consent_id=consent_id,
                recipient_organisation=recipient,
                purpose=purpose,
                data_categories=tuple(sorted(set(categories))),
                starts_on=day,
                expires_on=day + dt.timedelta(days=days),
                signed_on=day,
                signed_by="guardian" if age is not None and age < 18 else "client",
                revocation_explained=True,
                written=True,
            ),
        )
        if revocable and stream.profile.revocations and rng.random() < 0.12:
            self.at(
                draw_day(day, 7, 150, rng),
                stream,
                self.revoke_consent,
                consent_id,
                "oral" if rng.random() < 0.5 else "written",
            )
        return consent_id

    def revoke_consent(
        self, stream: PlannedStream, day: dt.date, consent_id: str, method: str
    ) -> None:
        consent = stream.state.consents[consent_id]
        if consent.revoked is not None:
            return
        self.do(
            stream,
            "record_consent",
            self.actor(stream),
            cmd.RevokeConsent(consent_id=consent_id, revoked_on=day, method=method),
        )

    def grant_spare_consent(self, stream: PlannedStream, day: dt.date, revoke: str | None) -> None:
        """A release for coordination or representation that no referral uses (yet)."""
        rng = self.rng
        category = rng.choice(
            ("mental_health", "legal_criminal_civil", "medical", "case_management")
        )
        recipient, purpose, pool = PARTNERS[category]
        consent_id = self.grant_consent(
            stream,
            day,
            recipient,
            purpose,
            draw_some(rng, pool, 1, len(pool)),
            rng.randint(60, 366),
            revocable=revoke is None,
        )
        if revoke:
            self.at(draw_day(day, 10, 40, rng), stream, self.revoke_consent, consent_id, revoke)

    def propose_referral(self, stream: PlannedStream, day: dt.date, target: str, kind: str) -> None:
        """A referral for one of the current needs, then its path to `target`."""
        rng, state = self.rng, stream.state
        category = rng.choice(stream.current_needs())
        referral_id = stream.next_id("referral")
        notes = "Synthetic referral note." if rng.random() < 0.3 else None
        if kind == "internal":
            recipient = rng.choice([t for t in stream.organisation.teams if t != state.team_id])
            command = cmd.ProposeReferral(
                referral_id=referral_id,
                kind="internal",
                category=category,
                recipient=recipient,
                purpose=rng.choice(("service_referral", "care_coordination")),
                proposed_on=day,
                notes=notes,
            )
        else:
            recipient, purpose, pool = PARTNERS[category]
            if rng.random() < 0.1:  # at times, a sister organisation of the demo
                recipient = rng.choice(
                    [o.id for o in self.orgs if o.id != stream.organisation.id] or [recipient]
                )
            released = draw_some(rng, pool, 1, len(pool))
            consent_id = self.usable_consent(
                state, recipient, purpose, released, day, day + dt.timedelta(days=14)
            )
            if consent_id is None:
                consent_id = self.grant_consent(
                    stream,
                    day,
                    recipient,
                    purpose,
                    released + draw_some(rng, pool, 0, 1),
                    rng.randint(90, 366),
                )
            command = cmd.ProposeReferral(
                referral_id=referral_id,
                kind="external",
                category=category,
                recipient=recipient,
                purpose=purpose,
                proposed_on=day,
                consent_id=consent_id,
                released_categories=released,
                notes=notes,
            )
        self.do(stream, "refer", self.actor(stream), command)
        path = referral_path(rng, target)
        if path:
            self.at(
                day + dt.timedelta(days=days_before(rng, path[0][0])),
                stream,
                self.advance_referral,
                referral_id,
                path,
                0,
            )

    @staticmethod
    def usable_consent(
        state: CaseState,
        recipient: str,
        purpose: str,
        categories: Iterable[str],
        first: dt.date,
        last: dt.date,
    ) -> str | None:
        """A release to `recipient` for `purpose` covering `categories` from `first` to `last`."""
        for consent_id, consent in sorted(state.consents.items()):
            granted = consent.granted
            if (
                (granted.recipient_organisation, granted.purpose) == (recipient, purpose)
                and set(categories) <= set(granted.data_categories)
                and consent.active_on(first)
                and consent.active_on(last)
            ):
                return consent_id
        return None

    def advance_referral(
        self,
        stream: PlannedStream,
        day: dt.date,
        referral_id: str,
        path: list[tuple[str, str | None]],
        k: int,
    ) -> None:
        referral = stream.state.referrals[referral_id]
        status, reason = path[k]
        if not referral.is_open or status not in REFERRAL_TRANSITIONS[referral.status]:
            return  # ended meanwhile (a revoked consent ends the referrals that rely on it)
        p = referral.proposed
        if (
            status == "sent"
            and p.kind == "external"
            and not stream.state.consents[p.consent_id].active_on(day)
        ):
            # the release lapsed before sending
            status, reason, path = "expired", None, [("expired", None)]
        self.do(
            stream,
            "update_referral",
            self.actor(stream),
            cmd.UpdateReferral(
                referral_id=referral_id, status=status, changed_on=day, reason=reason
            ),
        )
        if status == "accepted" and self.rng.random() < 0.7:
            self.at(
                draw_day(day, 1, 20, self.rng),
                stream,
                self.record_service,
                referral_id,
                self.rng.randint(1, 3),
                None,
            )
        if k + 1 < len(path):
            self.at(
                day + dt.timedelta(days=days_before(self.rng, path[k + 1][0])),
                stream,
                self.advance_referral,
                referral_id,
                path,
                k + 1,
            )

    def resolve_referrals(self, stream: PlannedStream, day: dt.date) -> None:
        """Before a closure or transfer: no referral may stay open."""
        rng = self.rng
        for referral_id, referral in sorted(stream.state.referrals.items()):
            if not referral.is_open:
                continue
            # every entry is drawn, whichever the referral's status picks
            status, reason = {
                "proposed": rng.choice((("expired", None), ("revoked", "client_request"))),
                "sent": ("expired", None),
                "accepted": rng.choice((("completed", None), ("expired", None))),
                "in_progress": rng.choice(
                    (("completed", None), ("completed", None), ("revoked", "client_request"))
                ),
            }[referral.status]
            self.do(
                stream,
                "update_referral",
                self.actor(stream),
                cmd.UpdateReferral(
                    referral_id=referral_id, status=status, changed_on=day, reason=reason
                ),
            )

"""The rules of a case's intake and consent: opening a case, victim status, trafficking
context, releases of information and the consent to statistics.
"""

from __future__ import annotations

import datetime as dt
import uuid

from domain.case import commands as cmd
from domain.case import errors as err
from domain.case import events as ev
from domain.case.checks import ADULT_AGE, Context, not_before, not_future, require_codes
from domain.case.state import CaseState
from domain.case.values import TraffickingContext, VictimStatus
from domain.event import DomainEvent

MAX_CONSENT_DAYS = 366  # VAWA: "reasonably time-limited"
MAX_SCREENINGS_BEHIND_STATUS = 20


def _check_trafficking(context: Context, trafficking: TraffickingContext, age: int | None) -> None:
    t = trafficking
    require_codes(context, "trafficking_type", t.trafficking_type)
    require_codes(context, "recruitment_method", *t.recruitment)
    require_codes(context, "control_method", *t.control_methods)
    require_codes(context, "labor_industry", *t.labor_industries)
    require_codes(context, "sex_exploitation", *t.sex_exploitation)
    require_codes(context, "vulnerability", *t.vulnerabilities)
    if t.trafficking_type == "labor" and t.sex_exploitation:
        raise err.InvalidValue("sex exploitation recorded on a labor-only case: use 'both'")
    if t.trafficking_type == "sex" and t.labor_industries:
        raise err.InvalidValue("labor industries recorded on a sex-only case: use 'both'")
    # DVHT: anyone under 18 who performs a commercial sex act is a victim of sex trafficking,
    # whatever the means; the case must say so.
    if (
        age is not None
        and age < ADULT_AGE
        and t.commercial_sex_act
        and t.trafficking_type not in ("sex", "both")
    ):
        raise err.MinorSexTraffickingMisclassified(
            "a minor who performed a commercial sex act is a sex-trafficking victim"
            " (DVHT definition)"
        )


def _check_victim_status(context: Context, status: VictimStatus) -> None:
    require_codes(context, "victim_status", status.status)
    not_future(context, status.determined_on, "the victim-status determination")
    if not status.determined_by:
        raise err.InvalidValue("a victim-status determination names who made it")
    if len(status.screening_ids) > MAX_SCREENINGS_BEHIND_STATUS:
        raise err.InvalidValue(
            f"a victim-status determination names at most {MAX_SCREENINGS_BEHIND_STATUS} screenings"
        )
    if not all(_is_uuid(screening_id) for screening_id in status.screening_ids):
        raise err.InvalidValue("screening_ids must be the ids (UUIDs) of screenings")
    if len(set(status.screening_ids)) != len(status.screening_ids):
        raise err.InvalidValue("screening_ids names a screening twice")


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def open_case(c: cmd.OpenCase, context: Context) -> list[DomainEvent]:
    intake = c.intake
    require_codes(context, "intake_type", intake.intake_type)
    require_codes(context, "eligibility_status", intake.eligibility_status)
    if intake.referral_source is not None:
        require_codes(context, "referral_source", intake.referral_source)
    not_future(context, intake.intake_on, "the intake date")
    if intake.referral_on is not None:
        not_future(context, intake.referral_on, "the referral date")
        if intake.referral_on > intake.intake_on:
            raise err.DateOutOfOrder("the referral date is after the intake date")
    family = intake.family_served
    if (
        min(
            family.parents,
            family.siblings,
            family.spouse,
            family.children_under_18,
            family.children_18_plus,
        )
        < 0
    ):
        raise err.InvalidValue("family member counts cannot be negative")
    if family.spouse > 1:
        raise err.InvalidValue("at most one spouse is served with a client")
    birth = c.identity.date_of_birth
    if not c.identity.preferred_name.strip():
        raise err.InvalidValue("a case needs at least a preferred name (an alias is fine)")
    if birth is not None:
        not_future(context, birth, "the date of birth")
        if birth > intake.intake_on:
            raise err.DateOutOfOrder("the date of birth is after the intake date")
    if intake.age_at_intake is not None and not 0 <= intake.age_at_intake <= 120:
        raise err.InvalidValue("age at intake must be between 0 and 120")
    d = c.demographics
    require_codes(context, "gender_identity", d.gender_identity)
    require_codes(context, "yes_no_unknown", d.lgbtq)
    require_codes(context, "race_ethnicity", *d.race_ethnicity)
    require_codes(context, "disability", *d.disabilities)
    if d.citizenship is not None:
        require_codes(context, "citizenship", d.citizenship)
    for channel in c.contact.channels:
        require_codes(context, "contact_channel", channel.channel)
    _check_victim_status(context, c.victim_status)
    probe = CaseState(version=1, identity=c.identity, intake=intake)
    _check_trafficking(context, c.trafficking, probe.age_on(intake.intake_on))
    return [
        ev.CaseOpened(
            case_id=c.case_id,
            organisation_id=c.organisation_id,
            intake=intake,
            victim_status=c.victim_status,
            identity=c.identity,
            contact=c.contact,
            demographics=d,
            trafficking=c.trafficking,
            worker_id=c.worker_id,
            team_id=c.team_id,
        )
    ]


def determine_status(
    state: CaseState, c: cmd.DetermineVictimStatus, context: Context
) -> list[DomainEvent]:
    _check_victim_status(context, c.victim_status)
    return [ev.VictimStatusDetermined(victim_status=c.victim_status)]


def update_trafficking(
    state: CaseState, c: cmd.UpdateTraffickingContext, context: Context
) -> list[DomainEvent]:
    _check_trafficking(
        context, c.trafficking, state.age_on(state.intake.intake_on) if state.intake else None
    )
    return [ev.TraffickingContextUpdated(trafficking=c.trafficking)]


def grant_consent(state: CaseState, c: cmd.GrantConsent, context: Context) -> list[DomainEvent]:
    if c.consent_id in state.consents or not c.consent_id:
        raise err.ConsentAlreadyExists("that consent id is already used on this case")
    require_codes(context, "consent_purpose", c.purpose)
    require_codes(context, "data_category", *c.data_categories)
    if c.signed_by not in ("client", "guardian"):
        raise err.InvalidValue("a consent is signed by the client or a guardian")
    if not c.data_categories or not c.recipient_organisation:
        raise err.ConsentNotValid("a consent names its recipient and the data it releases")
    if not c.written or not c.revocation_explained:
        raise err.ConsentNotValid("a release must be written and explain the right to revoke")
    not_future(context, c.signed_on, "the signature date")
    if c.starts_on < c.signed_on:
        raise err.DateOutOfOrder("a consent cannot start before it was signed")
    if c.expires_on <= c.starts_on:
        raise err.DateOutOfOrder("a consent expires after it starts")
    if (c.expires_on - c.starts_on).days > MAX_CONSENT_DAYS:
        raise err.ConsentNotValid(f"a consent is time-limited to {MAX_CONSENT_DAYS} days")
    return [
        ev.ConsentGranted(
            consent_id=c.consent_id,
            recipient_organisation=c.recipient_organisation,
            purpose=c.purpose,
            data_categories=tuple(sorted(set(c.data_categories))),
            starts_on=c.starts_on,
            expires_on=c.expires_on,
            signed_on=c.signed_on,
            signed_by=c.signed_by,
            revocation_explained=c.revocation_explained,
            written=c.written,
        )
    ]


def revoke_consent(state: CaseState, c: cmd.RevokeConsent, context: Context) -> list[DomainEvent]:
    consent = state.consents.get(c.consent_id)
    if consent is None:
        raise err.ConsentNotFound("no such consent on this case")
    if consent.revoked is not None:
        raise err.ConsentRevokedError("the consent is already revoked")
    if c.method not in ("written", "oral"):
        raise err.InvalidValue("a revocation is written or oral")
    not_future(context, c.revoked_on, "the revocation")
    not_before(c.revoked_on, consent.granted.signed_on, "the revocation", "the signature")
    events: list[DomainEvent] = [
        ev.ConsentRevoked(
            consent_id=c.consent_id,
            revoked_on=c.revoked_on,
            method=c.method,
            recorded_by=context.actor_id,
        )
    ]
    # Nothing more may be released under it: open external referrals that rely on it end —
    # never before their own last status (a revocation may be recorded late).
    for referral_id, referral in sorted(state.referrals.items()):
        if referral.is_open and referral.proposed.consent_id == c.consent_id:
            events.append(
                ev.ReferralStatusChanged(
                    referral_id=referral_id,
                    status="revoked",
                    changed_on=max(c.revoked_on, referral.last_changed_on),
                    reason="consent_revoked",
                )
            )
    return events


def statistics_consent(
    state: CaseState, c: cmd.RecordStatisticsConsent, context: Context
) -> list[DomainEvent]:
    not_future(context, c.recorded_on, "the statistics consent")
    return [ev.StatisticsConsentRecorded(agrees=c.agrees, recorded_on=c.recorded_on)]


def require_consent(
    state: CaseState,
    consent_id: str | None,
    *,
    recipient: str,
    purpose: str,
    categories: tuple[str, ...],
    on: dt.date,
) -> None:
    """An active consent that covers the recipient, the purpose and every released category."""
    if consent_id is None:
        raise err.ConsentRequired(
            "releasing data outside the organisation needs the client's consent"
        )
    consent = state.consents.get(consent_id)
    if consent is None:
        raise err.ConsentNotFound("no such consent on this case")
    if consent.revoked is not None:
        # Whatever date the revocation carries, nothing more is released once it is known.
        raise err.ConsentRevokedError("the consent was revoked")
    if not consent.active_on(on):
        raise err.ConsentExpired("the consent is not in force on that date")
    granted = consent.granted
    if granted.recipient_organisation != recipient or granted.purpose != purpose:
        raise err.ConsentDoesNotCover("the consent names another recipient or purpose")
    uncovered = set(categories) - set(granted.data_categories)
    if uncovered:
        raise err.ConsentDoesNotCover(
            "the consent does not release: " + ", ".join(sorted(uncovered))
        )

"""Value types recorded on a case, grouped by the data category a consent can release.

Fields marked *sensitive* are identifying or narrative: they stay inside sealed events and
encrypted read-model columns, and never reach a log, a metric or an aggregate.
"""

from __future__ import annotations

import datetime as dt

import msgspec


class Value(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    pass


class Identity(Value, frozen=True, kw_only=True):
    """Data category `identity`. All sensitive."""

    preferred_name: str
    legal_name: str | None = None
    aliases: tuple[str, ...] = ()
    date_of_birth: dt.date | None = None

    def age_on(self, day: dt.date) -> int | None:
        """Whole years from the date of birth to `day` (None without a date of birth)."""
        birth = self.date_of_birth
        if birth is None:
            return None
        return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


class ContactChannel(Value, frozen=True, kw_only=True):
    channel: str  # codebook contact_channel
    detail: str | None = None  # sensitive: a number, an address, an advocate's name
    safe_times: str | None = None  # sensitive
    may_leave_message: bool = False


class SafeContact(Value, frozen=True, kw_only=True):
    """Data category `contact`: how to reach the client without endangering them."""

    channels: tuple[ContactChannel, ...] = ()
    code_word: str | None = None  # sensitive
    notes: str | None = None  # sensitive


class Demographics(Value, frozen=True, kw_only=True):
    """Data category `demographics`."""

    gender_identity: str = "not_reported"
    lgbtq: str = "unknown"  # yes / no / unknown
    race_ethnicity: tuple[str, ...] = ()
    disabilities: tuple[str, ...] = ()
    citizenship: str | None = None
    preferred_language: str | None = None  # an ISO 639 code
    interpreter_needed: bool = False


class FamilyServed(Value, frozen=True, kw_only=True):
    parents: int = 0
    siblings: int = 0
    spouse: int = 0
    children_under_18: int = 0
    children_18_plus: int = 0

    def total(self) -> int:
        return (
            self.parents
            + self.siblings
            + self.spouse
            + self.children_under_18
            + self.children_18_plus
        )


class VictimStatus(Value, frozen=True, kw_only=True):
    status: str  # confirmed / strong_indicators
    determined_on: dt.date
    determined_by: str  # staff user id, or the name of a certifying agency role
    # the organisation's screenings behind the determination (`domain.screening`), by id
    screening_ids: tuple[str, ...] = ()


class TraffickingContext(Value, frozen=True, kw_only=True):
    """Data category `trafficking` (IOM HTCDS)."""

    trafficking_type: str  # sex / labor / both / unknown
    commercial_sex_act: bool = False  # DVHT: a minor who performs one is a sex-trafficking victim
    recruitment: tuple[str, ...] = ()
    control_methods: tuple[str, ...] = ()
    labor_industries: tuple[str, ...] = ()
    sex_exploitation: tuple[str, ...] = ()
    vulnerabilities: tuple[str, ...] = ()
    recruitment_location: str | None = None  # sensitive: never leaves the case
    exploitation_location: str | None = None  # sensitive: never leaves the case
    narrative: str | None = None  # sensitive


class Intake(Value, frozen=True, kw_only=True):
    """Program entry (TVAP/DVHT "Client Characteristics and Program Entry")."""

    intake_on: dt.date
    intake_type: str
    referral_on: dt.date | None = None
    referral_source: str | None = None
    matched_within_48h: bool | None = None
    eligibility_status: str = "pending"
    age_at_intake: int | None = None  # when the date of birth is unknown or withheld
    family_served: FamilyServed = FamilyServed()
    # the client says another agency served them (GBVIMS): no identifier of that agency's
    # record is asked or kept; roll-up counts across organisations use it to de-duplicate
    # (`domain.reporting.unduplicated`)
    served_by_another_agency: bool = False

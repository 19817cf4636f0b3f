"""Named domain errors, one per rule. The HTTP layer maps each to a problem type.

Messages name the rule and the codes involved, never a survivor's data.
"""

from __future__ import annotations


class DomainError(Exception):
    """A command that the case's rules refuse."""

    code = "domain-error"


class CaseNotFound(DomainError):
    code = "case-not-found"


class CaseAlreadyOpen(DomainError):
    code = "case-already-open"


class CaseClosed(DomainError):
    code = "case-closed"


class CaseNotClosed(DomainError):
    code = "case-not-closed"


class InvalidCode(DomainError):
    code = "invalid-code"


class InvalidValue(DomainError):
    code = "invalid-value"


class DateInFuture(DomainError):
    code = "date-in-future"


class DateOutOfOrder(DomainError):
    code = "date-out-of-order"


class MinorSexTraffickingMisclassified(DomainError):
    code = "minor-sex-trafficking-misclassified"


class ConsentNotFound(DomainError):
    code = "consent-not-found"


class ConsentAlreadyExists(DomainError):
    code = "consent-already-exists"


class ConsentExpired(DomainError):
    code = "consent-expired"


class ConsentRevokedError(DomainError):
    code = "consent-revoked"


class ConsentDoesNotCover(DomainError):
    code = "consent-does-not-cover"


class ConsentNotValid(DomainError):
    """A consent that is not written, not informed of the right to revoke, or not time-limited."""

    code = "consent-not-valid"


class ConsentRequired(DomainError):
    code = "consent-required"


class ReferralNotFound(DomainError):
    code = "referral-not-found"


class ReferralAlreadyExists(DomainError):
    code = "referral-already-exists"


class ReferralNotOpen(DomainError):
    code = "referral-not-open"


class IllegalReferralTransition(DomainError):
    code = "illegal-referral-transition"


class AnsweredByRecipient(DomainError):
    """A referral in a partner's inbox is accepted, declined or expired there, not by hand."""

    code = "answered-by-recipient"


class ReferralOverdue(DomainError):
    code = "referral-overdue"


class ReferralNotOverdue(DomainError):
    code = "referral-not-overdue"


class ReasonRequired(DomainError):
    code = "reason-required"


class GoalNotFound(DomainError):
    code = "goal-not-found"


class DuplicateRecord(DomainError):
    """An id (service, assessment, goal, milestone) already used on this case."""

    code = "duplicate-record"


class MilestoneNotFound(DomainError):
    code = "milestone-not-found"


class IllegalImmigrationTransition(DomainError):
    code = "illegal-immigration-transition"


class CertificationAgeMismatch(DomainError):
    """HHS certification letters are for adults, eligibility letters for minors."""

    code = "certification-age-mismatch"


class AlreadyAssigned(DomainError):
    code = "already-assigned"


class OpenReferralsOnClosure(DomainError):
    code = "open-referrals-on-closure"


class VersionGap(DomainError):
    """Events handed to the fold do not have consecutive versions."""

    code = "version-gap"


class TransferPending(DomainError):
    """A transfer of the case is already waiting for its recipient's answer."""

    code = "transfer-pending"


class TransferNotFound(DomainError):
    """No pending transfer with that id (never asked, or already accepted or declined)."""

    code = "transfer-not-found"

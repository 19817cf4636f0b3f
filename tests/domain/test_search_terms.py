"""Normalising what a client is found by: spellings of one name, one date, one number meet;
different ones do not."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.case.search_terms import (
    UnusableSearchTerm,
    case_terms,
    duplicate_probes,
    normalise_name,
    normalise_phone,
    search_criteria,
)
from domain.case.values import ContactChannel, Identity, SafeContact


@pytest.mark.parametrize(
    ("spelled", "normalised"),
    [
        ("  José-María  O'Neil ", "jose maria o neil"),
        ("JOSE MARIA O NEIL", "jose maria o neil"),
        ("Straße", "strasse"),
        ("Ｊｏｓé", "jose"),  # full-width letters
        ("Nguyễn Thị", "nguyen thi"),
        ("!!!", None),
        ("x" * 201, None),
    ],
)
def test_names_are_casefolded_without_accents_and_spacing(
    spelled: str, normalised: str | None
) -> None:
    assert normalise_name(spelled) == normalised


def test_different_names_stay_different() -> None:
    assert normalise_name("Ana Lima") != normalise_name("Ana Limas")


@pytest.mark.parametrize(
    ("spelled", "normalised"),
    [
        ("(555) 010-7788", "+15550107788"),
        ("+1 555 010 7788", "+15550107788"),
        ("15550107788", "+15550107788"),
        ("0044 20 7946 0000", "+442079460000"),
        ("+44 20 7946 0000", "+442079460000"),
        ("555-0100", None),  # too short to be a number
        ("call me", None),
    ],
)
def test_phone_numbers_become_their_digits(spelled: str, normalised: str | None) -> None:
    assert normalise_phone(spelled) == normalised


def test_a_case_is_found_by_names_aliases_birth_date_and_phones_only() -> None:
    identity = Identity(
        preferred_name="Ana Lima",
        legal_name="Ana Maria Lima",
        aliases=("Nina",),
        date_of_birth=dt.date(1991, 2, 3),
    )
    contact = SafeContact(
        channels=(
            ContactChannel(channel="text_message", detail="555 010 7788"),
            ContactChannel(channel="email", detail="someone@example.org"),
        )
    )
    assert case_terms(identity, contact) == {
        ("name", "ana lima"),
        ("name", "ana maria lima"),
        ("alias", "nina"),
        ("date_of_birth", "1991-02-03"),
        ("phone", "+15550107788"),
    }
    assert case_terms(None, None) == frozenset()


def test_a_duplicate_needs_a_name_with_the_birth_date_or_a_phone() -> None:
    name_only = case_terms(Identity(preferred_name="Ana Lima"), None)
    assert duplicate_probes(name_only) == []  # a name alone is too common
    with_birth = case_terms(
        Identity(preferred_name="Ana Lima", date_of_birth=dt.date(1991, 2, 3)), None
    )
    (probe,) = duplicate_probes(with_birth)
    assert [field for field, _ in probe] == ["name", "date_of_birth"]


def test_a_search_needs_a_usable_term() -> None:
    with pytest.raises(ValueError):
        search_criteria()
    with pytest.raises(UnusableSearchTerm) as unusable:
        search_criteria(name="ana", phone="12")
    assert unusable.value.field == "phone"
    (criterion,) = search_criteria(name="Ana")
    assert criterion == ("name", frozenset({("name", "ana"), ("alias", "ana")}))

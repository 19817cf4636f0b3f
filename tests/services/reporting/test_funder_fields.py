"""REFERENCE §3.1: a funder's field that asks for a client identifier or a date of birth is
answered with an aggregate, and the refusal is logged — never with anyone's data."""

from __future__ import annotations

import pytest
import structlog

from domain.reporting.federal_codebook import IDENTIFYING_FIELDS, TEMPLATE_FIELDS, VERSION
from domain.reporting.federal_families import output_tables
from services.reporting.funder_fields import FieldError, answer_fields

CANARY = "Jane-Doe-1987-04-02"  # what a careless template might put where a field name goes


def document() -> dict:
    """A released document's shape (synthetic counts)."""

    def table(name: str, count: int) -> dict:
        return {"name": name, "cells": [{"dims": {}, "count": count}]}

    return {
        "period": "2026Q3",
        "codebook_version": VERSION,
        "tables": [
            table("tims_clients_served", 576),
            table("tims_gender", 431),
            table("voca_new_by_age", 140),
        ],
        "certificate": {"audit": {"result": "passed"}},
    }


def test_a_date_of_birth_is_answered_with_age_bands_and_the_refusal_is_logged() -> None:
    with structlog.testing.capture_logs() as logs:
        answered = answer_fields(document(), ["date_of_birth", "client_id"])
    assert [t["name"] for t in answered["tables"]] == ["voca_new_by_age", "tims_clients_served"]
    assert answered["tables"][0] == document()["tables"][2]  # the aggregate, as released
    assert answered["certificate"]["identifying_fields"] == {
        "date_of_birth": "voca_new_by_age",
        "client_id": "tims_clients_served",
    }
    assert [(line["funder_field"], line["answered_with"], line["log_level"]) for line in logs] == [
        ("date_of_birth", "voca_new_by_age", "warning"),
        ("client_id", "tims_clients_served", "warning"),
    ]


def test_control_a_codebook_table_asked_by_name_is_no_refusal() -> None:
    with structlog.testing.capture_logs() as logs:
        answered = answer_fields(document(), ["tims_gender"])
    assert [t["name"] for t in answered["tables"]] == ["tims_gender"]
    assert answered["certificate"]["identifying_fields"] == {} and logs == []


def test_every_identifying_field_is_answered_by_a_codebook_table() -> None:
    released = {
        "period": "2026Q3",
        "codebook_version": "v",
        "certificate": {},
        "tables": [{"name": name, "cells": []} for name in set(IDENTIFYING_FIELDS.values())],
    }
    assert set(
        answer_fields(released, list(IDENTIFYING_FIELDS))["certificate"]["identifying_fields"]
    ) == set(IDENTIFYING_FIELDS)


def test_an_unknown_field_is_refused_without_repeating_what_was_asked() -> None:
    with pytest.raises(FieldError) as refused:
        answer_fields(document(), ["tims_gender", CANARY])
    assert "field 2 of 2" in str(refused.value) and CANARY not in str(refused.value)


def test_a_field_whose_table_this_release_does_not_hold_is_refused() -> None:
    with pytest.raises(FieldError, match="does not hold"):
        answer_fields(
            document(), ["country_of_origin"]
        )  # otip_program_entry is not in this document


def test_a_templates_name_for_a_performance_measure_is_answered_with_its_table() -> None:
    released = {
        "period": "2026Q3",
        "codebook_version": "v",
        "certificate": {},
        "tables": [{"name": name, "cells": []} for name in set(TEMPLATE_FIELDS.values())],
    }
    with structlog.testing.capture_logs() as logs:
        answered = answer_fields(released, ["people_trained", "individuals_screened"])
    assert [t["name"] for t in answered["tables"]] == [
        "tims_trainings_by_sector",
        "identification_funnel",
    ]
    assert answered["certificate"]["identifying_fields"] == {} and logs == []
    assert set(TEMPLATE_FIELDS.values()) <= set(output_tables())


def test_a_screenings_answers_are_answered_with_the_results_counted() -> None:
    released = {
        "period": "2026Q3",
        "codebook_version": "v",
        "certificate": {},
        "tables": [{"name": "tims_screening_results", "cells": []}],
    }
    with structlog.testing.capture_logs() as logs:
        answered = answer_fields(released, ["screening_answers"])
    assert answered["certificate"]["identifying_fields"] == {
        "screening_answers": "tims_screening_results"
    }
    assert [line["funder_field"] for line in logs] == ["screening_answers"]

"""Screening instruments and screenings: parsing refuses malformed definitions with a clear
error, scoring is monotone, a minor in commercial sex is confirmed, and a screening's event
holds nothing identifying. Only synthetic answers."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from importlib import resources
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.screening.instrument import (
    ANSWERS,
    RESULTS,
    Instrument,
    InstrumentInvalid,
    parse_instrument,
)
from domain.screening.scoring import rank, score
from domain.screening.screening import (
    SETTINGS,
    Indicator,
    RecordScreening,
    ScreeningRecorded,
    ScreeningRefused,
    record_screening,
)
from tests.tiers import scaled

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
DEFAULT_FILE = "ilo-forced-labour-1.json"


def default_document() -> dict[str, Any]:
    folder = resources.files("domain.screening").joinpath("instruments")
    loaded: dict[str, Any] = json.loads(folder.joinpath(DEFAULT_FILE).read_text())
    return loaded


DEFAULT = parse_instrument(json.dumps(default_document()))
ITEM_IDS = [item.id for item in DEFAULT.items]

answers_strategy = st.dictionaries(st.sampled_from(ITEM_IDS), st.sampled_from(ANSWERS))
minor_strategy = st.sampled_from(("yes", "no", "unknown"))


def command(**changes: Any) -> RecordScreening:
    values: dict[str, Any] = {
        "screening_id": str(uuid.uuid4()),
        "organisation_id": "org-harbor",
        "screened_by": "outreach-1",
        "instrument_id": DEFAULT.id,
        "instrument_version": DEFAULT.version,
        "screened_on": dt.date(2026, 5, 30),
        "setting": "outreach",
        "indicators": (Indicator(item="vul_1", answer="yes"),),
        "minor": "unknown",
        **changes,
    }
    return RecordScreening(**values)


# -- the default instrument ---------------------------------------------------------------


def test_the_default_instrument_has_the_eleven_ilo_indicators_and_commercial_sex() -> None:
    domains = {domain.id for domain in DEFAULT.domains}
    assert len(domains) == 12 and "commercial_sex" in domains
    assert {item.domain for item in DEFAULT.items} == domains  # every domain has an item
    assert any(item.commercial_sex for item in DEFAULT.items)
    assert DEFAULT.scoring.minor_in_commercial_sex_confirmed


def test_the_default_scores_as_documented() -> None:
    assert score(DEFAULT, {}) == "no_indicators"
    assert score(DEFAULT, {"vul_1": "no", "dec_1": "unknown"}) == "no_indicators"
    assert score(DEFAULT, {"vul_1": "yes"}) == "indicators_present"
    assert score(DEFAULT, {"doc_1": "yes"}) == "strong_indicators"  # a strong item
    assert score(DEFAULT, {"vul_1": "yes", "dec_1": "yes", "iso_1": "yes"}) == "strong_indicators"
    assert score(DEFAULT, {"vul_1": "yes", "dec_1": "yes"}) == "indicators_present"
    assert score(DEFAULT, {"sex_1": "yes"}, minor="yes") == "confirmed"
    assert score(DEFAULT, {"sex_1": "yes"}, minor="unknown") == "indicators_present"


# -- scoring properties ----------------------------------------------------------------------


@settings(max_examples=scaled(default=200, full=1000), deadline=None)
@given(answers=answers_strategy, minor=minor_strategy, more=st.sampled_from(ITEM_IDS))
def test_a_further_yes_never_lowers_the_result(
    answers: dict[str, str], minor: str, more: str
) -> None:
    before = score(DEFAULT, answers, minor)
    after = score(DEFAULT, {**answers, more: "yes"}, minor)
    assert rank(after) >= rank(before)


@settings(max_examples=scaled(default=200, full=1000), deadline=None)
@given(answers=answers_strategy)
def test_finding_a_minor_never_lowers_the_result(answers: dict[str, str]) -> None:
    for unsure in ("no", "unknown"):
        assert rank(score(DEFAULT, answers, "yes")) >= rank(score(DEFAULT, answers, unsure))


@settings(max_examples=scaled(default=200, full=1000), deadline=None)
@given(answers=answers_strategy)
def test_a_minor_in_commercial_sex_is_confirmed_whatever_else(answers: dict[str, str]) -> None:
    sex_items = [item.id for item in DEFAULT.items if item.commercial_sex]
    assert score(DEFAULT, {**answers, sex_items[0]: "yes"}, "yes") == "confirmed"


@settings(max_examples=scaled(default=100, full=500), deadline=None)
@given(answers=answers_strategy, minor=minor_strategy)
def test_only_yes_answers_count(answers: dict[str, str], minor: str) -> None:
    only_yes = {item: answer for item, answer in answers.items() if answer == "yes"}
    assert score(DEFAULT, answers, minor) == score(DEFAULT, only_yes, minor)
    assert score(DEFAULT, answers, minor) in RESULTS


# -- recording -------------------------------------------------------------------------------

IDENTIFYING = set(
    "name preferred_name legal_name date_of_birth birth phone email address contact location "
    "nationality narrative notes".split()
)
ALLOWED_FIELDS = {
    "screening_id",
    "organisation_id",
    "instrument_id",
    "instrument_version",
    "screened_on",
    "screened_by",
    "setting",
    "indicators",
    "minor",
    "result",
    "case_id",
}


@settings(max_examples=scaled(default=100, full=500), deadline=None)
@given(
    answers=answers_strategy,
    minor=minor_strategy,
    setting=st.sampled_from(SETTINGS),
    day=st.dates(dt.date(2000, 1, 1), dt.date(2026, 6, 1)),
)
def test_a_standalone_screening_s_event_holds_no_identifying_field(
    answers: dict[str, str], minor: str, setting: str, day: dt.date
) -> None:
    indicators = tuple(Indicator(item=i, answer=a) for i, a in answers.items())
    event = record_screening(
        command(indicators=indicators, minor=minor, setting=setting, screened_on=day),
        DEFAULT,
        NOW,
    )
    assert set(ScreeningRecorded.__struct_fields__) == ALLOWED_FIELDS
    encoded = msgspec.to_builtins(event)
    assert set(encoded) == ALLOWED_FIELDS | {"type"}
    assert not IDENTIFYING & set(encoded)
    assert encoded["case_id"] is None
    assert all(set(indicator) == {"item", "answer"} for indicator in encoded["indicators"])
    assert event.result == score(DEFAULT, answers, minor)  # stored with the event


def test_refusals_name_the_fields() -> None:
    bad = command(
        setting="rooftop",
        minor="perhaps",
        screened_on=dt.date(2030, 1, 1),
        indicators=(Indicator(item="zz", answer="yes"), Indicator(item="vul_1", answer="maybe")),
        case_id="not-a-uuid",
    )
    with pytest.raises(ScreeningRefused) as refused:
        record_screening(bad, DEFAULT, NOW)
    assert {field for field, _ in refused.value.faults} == {
        "setting",
        "minor",
        "screened_on",
        "indicators/0/item",
        "indicators/1/answer",
        "case_id",
    }
    assert "rooftop" not in str(refused.value) and "perhaps" not in str(refused.value)


def test_a_screening_keeps_its_instrument_version() -> None:
    changed = msgspec.structs.replace(
        DEFAULT,
        version=2,
        scoring=msgspec.structs.replace(DEFAULT.scoring, indicators_present_items=2),
    )
    event = record_screening(command(), DEFAULT, NOW)
    assert (event.instrument_id, event.instrument_version, event.result) == (
        DEFAULT.id,
        1,
        "indicators_present",
    )
    assert score(changed, {"vul_1": "yes"}) == "no_indicators"  # the stored result stands
    with pytest.raises(ScreeningRefused):  # a command names the version it is scored under
        record_screening(command(), changed, NOW)


# -- malformed instruments -------------------------------------------------------------------


def _with(path: list[Any], value: Any) -> str:
    document = default_document()
    target: Any = document
    for step in path[:-1]:
        target = target[step]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return json.dumps(document)


_DELETE = object()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{not json", "not JSON"),
        ("[]", "Expected `object`"),
        (_with(["version"], 0), "$.version"),
        (_with(["version"], "1"), "$.version"),
        (_with(["id"], "Has Spaces"), "$.id"),
        (_with(["items"], []), "$.items"),
        (_with(["scoring"], _DELETE), "scoring"),
        (_with(["surprise"], 1), "surprise"),
        (_with(["items", 0, "domain"], "nowhere"), "$.items[0].domain"),
        (_with(["items", 1, "id"], "vul_1"), "item ids must be unique"),
        (_with(["scoring", "strong_domains"], 13), "$.scoring.strong_domains"),
        (_with(["scoring", "indicators_present_items"], 0), "indicators_present_items"),
        (_with(["asks_minor"], False), "minor_in_commercial_sex_confirmed"),
    ],
)
def test_a_malformed_instrument_is_refused_with_a_clear_error(text: str, says: str) -> None:
    with pytest.raises(InstrumentInvalid) as refused:
        parse_instrument(text, "test.json")
    assert str(refused.value).startswith("test.json: ")
    assert says in str(refused.value)


@settings(max_examples=scaled(default=100, full=500), deadline=None)
@given(junk=st.binary(max_size=200) | st.text(max_size=200))
def test_junk_is_refused_never_crashes(junk: bytes | str) -> None:
    try:
        parsed = parse_instrument(junk)
    except InstrumentInvalid:
        return
    assert isinstance(parsed, Instrument)  # (never, for junk this short, but never a crash)


@st.composite
def instruments(draw: st.DrawFn) -> Instrument:
    """Any valid instrument: its domains, items (strong or commercial sex at random) and rule."""
    domain_count = draw(st.integers(1, 5))
    domains = [{"id": f"d{i}", "title": f"Domain {i}"} for i in range(domain_count)]
    item_count = draw(st.integers(1, 12))
    items = [
        {
            "id": f"i{i}",
            "domain": f"d{draw(st.integers(0, domain_count - 1))}",
            "text": f"Item {i}",
            "strong": draw(st.booleans()),
            "commercial_sex": i == 0 or draw(st.booleans()),
        }
        for i in range(item_count)
    ]
    strong_count = max(1, sum(item["strong"] for item in items))
    document = {
        "id": "generated",
        "version": draw(st.integers(1, 9)),
        "title": "Generated",
        "domains": domains,
        "items": items,
        "scoring": {
            "indicators_present_items": draw(st.integers(1, item_count)),
            "strong_items": draw(st.integers(1, strong_count)),
            "strong_domains": draw(st.integers(1, domain_count)),
            "confirmed_domains": draw(st.none() | st.integers(1, domain_count)),
            "minor_in_commercial_sex_confirmed": draw(st.booleans()),
        },
    }
    return parse_instrument(json.dumps(document))


@settings(max_examples=scaled(default=200, full=1000), deadline=None)
@given(instrument=instruments(), data=st.data())
def test_every_valid_instrument_scores_monotonically(
    instrument: Instrument, data: st.DataObject
) -> None:
    ids = [item.id for item in instrument.items]
    answers = data.draw(st.dictionaries(st.sampled_from(ids), st.sampled_from(ANSWERS)))
    minor = data.draw(minor_strategy)
    more = data.draw(st.sampled_from(ids))
    before = score(instrument, answers, minor)
    assert rank(score(instrument, {**answers, more: "yes"}, minor)) >= rank(before)
    assert rank(score(instrument, answers, "yes")) >= rank(before)
    if instrument.scoring.minor_in_commercial_sex_confirmed:
        assert score(instrument, {**answers, "i0": "yes"}, "yes") == "confirmed"

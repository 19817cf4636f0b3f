"""The intake form holds every member of the record `POST /v1/cases` takes: what is filled in
is recorded (read back through the API), a safe contact's detail without its channel is named
next to the channel, and the fields are grouped in the record's sections."""

from __future__ import annotations

from services.api.cases.schemas.requests import OpenCaseBody
from services.console.intake_fields import INTAKE, SECTIONS
from tests.console.support import hidden_fields, intake
from tests.console.test_console_privacy import bearer

FILLED = {
    "intake.referral_on": "2026-01-02",
    "intake.referral_source": "law_enforcement",
    "intake.matched_within_48h": "yes",
    "intake.age_at_intake": "24",
    "intake.family_served.children_under_18": "2",
    "identity.legal_name": "Synthetic Legalname",
    "identity.aliases": "Synthetic Alias One\r\nSynthetic Alias Two",
    "contact.channel.channel": "phone_call",
    "contact.channel.detail": "555-0100 (synthetic)",
    "contact.channel.may_leave_message": "yes",
    "contact.code_word": "synthetic-lantern",
    "demographics.gender_identity": "woman",
    "demographics.race_ethnicity.hispanic_latino": "yes",
    "demographics.interpreter_needed": "yes",
    "demographics.preferred_language": "es",
    "trafficking.recruitment.job_offer": "yes",
    "trafficking.narrative": "Synthetic narrative.",
}


def test_the_form_offers_every_member_of_the_record() -> None:
    offered = {field.name.split(".")[0] for field in INTAKE.fields}
    assert offered >= set(OpenCaseBody.__struct_fields__) - {"worker_id", "team_id"}
    assert [legend for legend, _ in SECTIONS][:3] == ["Intake", "Victim status", "Client"]


async def test_every_field_filled_in_is_recorded(browser, issuer):
    async with browser() as user:
        await user.sign_in()
        case_id = await user.open_case("Synthetic Fullform", **FILLED)
        record = (
            await user.client.get(f"/v1/cases/{case_id}", headers=bearer(issuer, "caseworker"))
        ).json()
    assert record["intake"]["referral_source"] == "law_enforcement"
    assert record["intake"]["matched_within_48h"] is True
    assert record["intake"]["family_served"]["children_under_18"] == 2
    assert record["identity"]["aliases"] == ["Synthetic Alias One", "Synthetic Alias Two"]
    assert record["contact"]["channels"] == [
        {"channel": "phone_call", "detail": "555-0100 (synthetic)", "safe_times": None,
         "may_leave_message": True}
    ]  # fmt: skip
    assert record["contact"]["code_word"] == "synthetic-lantern"
    assert record["demographics"]["race_ethnicity"] == ["hispanic_latino"]
    assert record["demographics"]["interpreter_needed"] is True
    assert record["trafficking"]["recruitment"] == ["job_offer"]


async def test_a_contact_detail_without_its_channel_is_named_at_the_channel(browser, runtime):
    async with browser() as user:
        await user.sign_in()
        form = (await user.client.get("/console/cases/new")).text
        answer = await user.client.post(
            "/console/cases",
            data={
                **hidden_fields(form, "/console/cases"),
                **intake("Synthetic Nochannel", **{"contact.channel.detail": "555-0101"}),
            },
        )
        assert answer.status_code == 422
        assert 'id="f-contact-channel-channel-error" role="alert"' in answer.text
        assert 'value="555-0101"' in answer.text  # what was typed is shown again
        control = await user.client.post(
            "/console/cases",
            data={**hidden_fields(form, "/console/cases"), **intake("Synthetic Nochannel")},
        )
        assert control.status_code == 303

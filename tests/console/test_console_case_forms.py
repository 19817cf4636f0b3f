"""The case page's command forms (`services.console.case_forms`) over HTTP: each family
records through the write path, names a field's fault next to the field, and shows a domain
rule's refusal above the form; the conflict page lists what changed since the form's version."""

from __future__ import annotations

import re
import uuid

from services.console.case_forms import CASE_FORMS
from tests.console.support import ConsoleUser, assert_security_headers, hidden_fields

NAME = "Synthetic Quillfeather"
FORM = re.compile(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', re.S)


async def case_page(user: ConsoleUser, case_id: str) -> str:
    return (await user.client.get(f"/console/cases/{case_id}")).text


async def submit(user: ConsoleUser, case_id: str, name: str, page: str | None = None, **fields):
    """Fill in the case page's form `name` (`page`: the page as rendered earlier)."""
    page = page if page is not None else await case_page(user, case_id)
    action = f"/console/cases/{case_id}/forms/{name}"
    hidden = hidden_fields(page, f"{action}#form-{name}")  # the answer opens at the form
    return await user.client.post(action, data={**hidden, **fields})


def refused(answer, text: str) -> bool:
    """A 422 with the refusal's message in the refused form's section, once."""
    if answer.status_code != 422 or answer.text.count('role="alert">Not recorded: ') != 1:
        return False
    return f'role="alert">Not recorded: {text}' in answer.text.split('class="case-form"', 1)[1]


def field_error(answer, field_id: str) -> bool:
    """A 422 naming the fault next to the field, and saying so above the form."""
    summary = 'role="alert">Not recorded: correct the fields marked below.'
    return (
        answer.status_code == 422
        and f'id="{field_id}-error" role="alert">' in answer.text
        and summary in answer.text
    )


def outcome_rows(page: str) -> dict[str, list[str]]:
    """The case page's outcome table: per domain code, its cells as shown."""
    section = page[page.index('<table class="outcome-trends">') :]
    section = section[: section.index("</table>")]
    return {
        domain: re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", cells)
        for domain, cells in re.findall(r'<tr data-domain="([^"]+)">(.*?)</tr>', section)
    }


def timeline(page: str) -> list[str]:
    section = page[page.index('<ol class="timeline">') : page.index("</ol>")]
    return re.findall(r"</span> ([^<]+)</li>", section)


async def events_of(runtime, case_id: str) -> int:
    return await runtime.pool.fetchval(
        "SELECT count(*) FROM haven.events WHERE stream_id = $1", uuid.UUID(case_id)
    )


async def history_records(runtime, case_id: str) -> int:
    return await runtime.pool.fetchval(
        "SELECT count(*) FROM haven.access_records WHERE case_id = $1 AND part = 'history'",
        uuid.UUID(case_id),
    )


CONSENT = {
    "recipient_organisation": "org-example-partner",
    "purpose": "case_transfer",
    "data_categories.identity": "yes",
    "data_categories.services": "yes",
    "signed_on": "2026-01-10",
    "starts_on": "2026-01-10",
    "expires_on": "2026-06-30",
    "written": "yes",
    "revocation_explained": "yes",
}


async def signed_in_case(browser_user: ConsoleUser) -> str:
    await browser_user.sign_in()
    return await browser_user.open_case(NAME)


async def test_every_form_on_the_case_page_carries_the_token_version_and_labels(browser):
    async with browser() as user:
        case_id = await signed_in_case(user)
        page = await case_page(user, case_id)
        found = FORM.findall(page)
        actions = {action for action, _ in found}
        for form in CASE_FORMS:
            assert f"/console/cases/{case_id}/forms/{form.name}#form-{form.name}" in actions
        for action, body in found:
            assert 'name="csrf_token" value="' in body, action
            if action.startswith(f"/console/cases/{case_id}"):
                assert 'name="version" value="1"' in body, action
        for control in re.findall(r'<(?:input|select|textarea) id="([^"]+)"', page):
            assert f'for="{control}"' in page, control  # a label for every field
        prefixes = tuple(f' id="f-{form.name}-' for form in CASE_FORMS)
        ids = [i for i in re.findall(r' id="[^"]+"', page) if i.startswith(prefixes)]
        assert len(ids) == len(set(ids))  # each form's fields have ids of their own


async def test_a_consent_is_recorded_and_revoked(browser, runtime):
    async with browser() as user:
        case_id = await signed_in_case(user)
        missing = await submit(user, case_id, "consent", **{**CONSENT, "expires_on": ""})
        assert field_error(missing, "f-consent-expires-on")
        late = await submit(user, case_id, "consent", **{**CONSENT, "expires_on": "2026-01-01"})
        assert refused(late, "a consent expires after it starts")
        assert (await submit(user, case_id, "consent", **CONSENT)).status_code == 303
        page = await case_page(user, case_id)
        assert "org-example-partner, " in page  # a choice of the revocation form
        consent_id = re.search(r'<option value="(consent-[0-9a-f]+)"', page).group(1)
        revoked = await submit(
            user, case_id, "consent-revocation", page,
            consent_id=consent_id, revoked_on="2026-01-20", method="written",
        )  # fmt: skip
        assert revoked.status_code == 303, revoked.text
        again = await submit(
            user, case_id, "consent-revocation",
            consent_id=consent_id, revoked_on="2026-01-21", method="written",
        )  # fmt: skip
        assert refused(again, "no such consent") or refused(again, "the consent is already")
        assert timeline(await case_page(user, case_id))[-2:] == [
            "Consent recorded",
            "Consent revoked",
        ]
        assert await events_of(runtime, case_id) == 3


async def test_a_referrals_status_is_updated(browser):
    async with browser() as user:
        case_id = await signed_in_case(user)
        page = await case_page(user, case_id)
        action = f"/console/cases/{case_id}/referrals"
        proposed = await user.client.post(
            action,
            data={
                **hidden_fields(page, action),
                "kind": "internal",
                "category": "housing_shelter",
                "recipient": "program-housing",
                "purpose": "service_referral",
                "proposed_on": "2026-01-12",
            },
        )
        assert proposed.status_code == 303
        page = await case_page(user, case_id)
        referral_id = hidden_fields(page, action)["referral_id"]  # a new one: find the old
        referral_id = re.search(r'<option value="(referral-[0-9a-f]+)"', page).group(1)
        unnamed = await submit(user, case_id, "referral-status", status="sent")
        assert field_error(unnamed, "f-referral-status-referral-id")
        skipped = await submit(
            user, case_id, "referral-status", referral_id=referral_id, status="completed",
            changed_on="2026-01-13",
        )  # fmt: skip
        assert refused(skipped, "a referral cannot go from proposed to completed")
        sent = await submit(
            user, case_id, "referral-status", referral_id=referral_id, status="sent",
            changed_on="2026-01-13",
        )  # fmt: skip
        assert sent.status_code == 303, sent.text
        assert timeline(await case_page(user, case_id))[-1] == "Referral status changed"


async def test_an_outcome_assessment_and_an_immigration_step_are_recorded(browser):
    async with browser() as user:
        case_id = await signed_in_case(user)
        bad_date = await submit(user, case_id, "outcome", assessed_on="13/01/2026")
        assert field_error(bad_date, "f-outcome-assessed-on")
        assert "Enter a date as YYYY-MM-DD." in bad_date.text
        none = await submit(user, case_id, "outcome", assessed_on="2026-01-13")
        assert none.status_code == 422
        assert 'role="alert">Fill in at least one of the fields below.' in none.text
        off_scale = await submit(
            user, case_id, "outcome", assessed_on="2026-01-13", **{"scores.safety": "9"}
        )
        assert refused(off_scale, "outcome scores are on the 1-5 scale")
        scored = await submit(
            user, case_id, "outcome",
            assessed_on="2026-01-13", **{"scores.safety": "3", "scores.housing_stability": "2"},
        )  # fmt: skip
        assert scored.status_code == 303, scored.text
        page = await case_page(user, case_id)
        assert outcome_rows(page) == {
            "safety": ["Safety", "3 (2026-01-13)", "3 (2026-01-13)", "Scored once"],
            "housing_stability": ["Housing stability", "2 (2026-01-13)", "2 (2026-01-13)",
                                  "Scored once"],
        }  # fmt: skip
        again = await submit(
            user, case_id, "outcome", page,
            assessed_on="2026-01-20", **{"scores.safety": "4", "scores.housing_stability": "1"},
        )  # fmt: skip
        assert again.status_code == 303, again.text
        page = await case_page(user, case_id)
        rows = outcome_rows(page)
        assert rows["safety"][1:] == ["3 (2026-01-13)", "4 (2026-01-20)", "Improved"]
        assert rows["housing_stability"][1:] == ["2 (2026-01-13)", "1 (2026-01-20)", "Worse"]
        spanish = await user.client.post(
            "/console/language",
            data={"csrf_token": hidden_fields(page, "/console/language")["csrf_token"],
                  "language": "es", "next": f"/console/cases/{case_id}"},
        )  # fmt: skip
        assert spanish.status_code == 303
        translated = outcome_rows(await case_page(user, case_id))
        assert (
            translated["safety"][3] == "Mejoró" and translated["housing_stability"][3] == "Empeoró"
        )
        await user.client.post(
            "/console/language",
            data={"csrf_token": hidden_fields(page, "/console/language")["csrf_token"],
                  "language": "en", "next": f"/console/cases/{case_id}"},
        )  # fmt: skip
        page = await case_page(user, case_id)
        milestone = {
            "milestone_id": re.search(r'<option value="([^"]+)">A new milestone', page).group(1),
            "kind": "continued_presence",
            "on": "2026-01-14",
        }
        early = await submit(user, case_id, "immigration", page, step="granted", **milestone)
        assert refused(early, "continued_presence cannot go from the start to granted")
        step = await submit(user, case_id, "immigration", page, step="requested", **milestone)
        assert step.status_code == 303, step.text
        page = await case_page(user, case_id)
        assert timeline(page)[-3:] == [
            "Outcome assessed", "Outcome assessed", "Immigration step recorded"
        ]  # fmt: skip
        assert "Continued Presence: Requested (2026-01-14)" in page  # the milestone to go on


async def test_needs_goals_victim_status_and_statistics_consent_are_recorded(browser):
    async with browser() as user:
        case_id = await signed_in_case(user)
        needs = await submit(
            user, case_id, "needs",
            assessed_on="2026-01-12", **{"needs.housing_shelter": "yes", "needs.medical": "yes"},
        )  # fmt: skip
        assert needs.status_code == 303, needs.text
        undescribed = await submit(user, case_id, "goal", category="housing_shelter", set_on="")
        assert field_error(undescribed, "f-goal-description")
        assert field_error(undescribed, "f-goal-set-on")
        control = await submit(
            user, case_id, "goal", category="housing_shelter", description="Stable\x07 housing",
            set_on="2026-01-12",
        )  # fmt: skip
        assert field_error(control, "f-goal-description")  # the write path's text rule
        assert "This must be at most" in control.text
        goal = await submit(
            user, case_id, "goal", category="housing_shelter", description="Stable housing",
            set_on="2026-01-12", target_on="2026-06-01",
        )  # fmt: skip
        assert goal.status_code == 303, goal.text
        page = await case_page(user, case_id)
        goal_id = re.search(r'<option value="(goal-[0-9a-f]+)">Stable housing', page).group(1)
        same = await submit(
            user, case_id, "goal-status", page, goal_id=goal_id, status="open",
            changed_on="2026-01-13",
        )  # fmt: skip
        assert refused(same, "the goal already has that status")
        started = await submit(
            user, case_id, "goal-status", goal_id=goal_id, status="in_progress",
            changed_on="2026-01-13",
        )  # fmt: skip
        assert started.status_code == 303, started.text
        status = await submit(
            user, case_id, "victim-status",
            status="confirmed", determined_on="2026-01-14", determined_by="agency-example",
        )  # fmt: skip
        assert status.status_code == 303, status.text
        unanswered = await submit(user, case_id, "statistics-consent", recorded_on="2026-01-14")
        assert field_error(unanswered, "f-statistics-consent-agrees")
        agreed = await submit(
            user, case_id, "statistics-consent", agrees="yes", recorded_on="2026-01-14"
        )
        assert agreed.status_code == 303, agreed.text
        assert timeline(await case_page(user, case_id))[1:] == [
            "Needs assessed",
            "Goal set",
            "Goal status changed",
            "Victim status determined",
            "Statistics consent recorded",
        ]


async def test_a_case_is_closed_and_reopened(browser):
    """(A transfer's form, in two steps: tests/console/test_console_transfer.py.)"""
    async with browser() as user:
        case_id = await signed_in_case(user)
        open_case = await submit(user, case_id, "reopening", reopened_on="2026-01-12")
        assert refused(open_case, "only a closed case can be reopened")
        reasonless = await submit(
            user, case_id, "closure", closed_on="2026-01-12", living_situation="rental"
        )
        assert field_error(reasonless, "f-closure-reason")
        closed = await submit(
            user, case_id, "closure",
            closed_on="2026-01-12", reason="goals_met", living_situation="rental",
        )  # fmt: skip
        assert closed.status_code == 303, closed.text
        reopened = await submit(user, case_id, "reopening", reopened_on="2026-01-13")
        assert reopened.status_code == 303, reopened.text
        assert timeline(await case_page(user, case_id))[1:] == ["Case closed", "Case reopened"]


async def test_the_conflict_page_lists_what_changed_since_the_form(browser, runtime):
    async with browser() as first, browser() as second:
        case_id = await signed_in_case(first)
        await second.sign_in()
        stale = await case_page(second, case_id)
        assert (await first.log_service(case_id)).status_code == 303
        goal = await submit(
            first, case_id, "goal", category="education", description="Evening classes",
            set_on="2026-01-12",
        )  # fmt: skip
        assert goal.status_code == 303
        history_reads = await history_records(runtime, case_id)
        answer = await submit(
            second, case_id, "statistics-consent", stale, agrees="no", recorded_on="2026-01-14"
        )
        assert answer.status_code == 409
        assert await history_records(runtime, case_id) == history_reads + 1  # the read recorded
        assert "Someone changed this case" in answer.text
        listed = answer.text[answer.text.index('<ol class="timeline changes">') :]
        assert re.findall(r"</span> ([^<]+)</li>", listed) == ["Service delivered", "Goal set"]
        assert "Case opened" not in listed  # the form's own version
        assert f'href="/console/cases/{case_id}"' in answer.text
        assert NAME not in answer.text and "Evening classes" not in answer.text
        assert_security_headers(answer)
        assert await events_of(runtime, case_id) == 3
        stale_service = await second.log_service(case_id, page=stale)  # the first two forms too
        assert stale_service.status_code == 409 and "Goal set" in stale_service.text


async def test_an_unknown_form_is_not_found(browser):
    async with browser() as user:
        case_id = await signed_in_case(user)
        answer = await submit(user, case_id, "consent")
        assert answer.status_code == 422
        missing = await user.client.post(f"/console/cases/{case_id}/forms/no-such-form", data={})
        assert missing.status_code == 404


async def test_an_action_authorisation_refuses_is_a_message_on_a_case_one_may_read(
    runtime, verifier, settings, issuer
):
    import msgspec

    from services.api.app import create_app
    from services.demo.organisations import demo_accounts
    from tests.api.conftest import api_client

    team_settings = msgspec.structs.replace(settings, team_access=frozenset({"org-harbor"}))
    app = create_app(runtime=runtime, verifier=verifier, settings=team_settings)
    async with api_client(app, lifespan=False) as client:
        user = ConsoleUser(client)
        case_id = await signed_in_case(user)
        _, supervisor, team = demo_accounts("org-harbor")[1]
        token = issuer.mint(supervisor, "org-harbor", ["supervisor"], team=team)
        moved = await client.post(
            f"/v1/cases/{case_id}/assignment",
            json={"worker_id": "worker-example-2", "assigned_on": "2026-01-06"},
            headers={"Authorization": f"Bearer {token}", "If-Match": '"1"'},
        )
        assert moved.status_code == 200, moved.text
        page = await case_page(user, case_id)  # a member of the case's team reads it
        answer = await submit(
            user, case_id, "immigration", page,
            milestone_id=re.search(r'<option value="([^"]+)">A new milestone', page).group(1),
            kind="continued_presence", step="requested", on="2026-01-14",
        )  # fmt: skip
        assert refused(answer, "this account may not do this on this case")
        assert NAME in answer.text  # the case page of a reader who may see it
        assert await events_of(runtime, case_id) == 2

"""Attack: poison free text. A case worker puts a NUL, an escape sequence, a line separator or
30,000 characters into a name, a narrative, a note or a goal. Such text would be sealed into an
event, folded into views and, where it reaches a plain column or a log line, refuse to be
written or forge one. Every text member is refused at the edge with 422 naming the member (by
pointer, never by content), nothing is appended, and a command built without the API is refused
by the domain too (`domain.text`).

Controls: the same members with ordinary text, with line breaks and a tab, and a name that
needs a zero-width non-joiner, are accepted.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from domain.case.decide import decide
from domain.case.errors import InvalidValue
from domain.case.state import CaseState
from domain.text import MAX_LONG_TEXT_LENGTH, MAX_TEXT_LENGTH, is_text, member_rule, text_faults
from services.api.cases.schemas.examples import (
    RECORD_SERVICE_EXAMPLE,
    SET_GOAL_EXAMPLE,
)
from services.bootstrap import Runtime
from tests.api.conftest import ORG
from tests.api.test_case_command_routes import People, at, prepared
from tests.api.test_case_routes import assert_problem, intake_body
from tests.domain.builders import context, open_case_command

POISON = {
    "nul": "Client\x00Example",
    "escape": "Client \x1b[31mExample",
    "line separator": "Client\u2028Example",
    "private use": "Client \ue000",
    "too long": "x" * (MAX_LONG_TEXT_LENGTH + 1),
}
ORDINARY = {
    "plain": "Client Example",
    "layout": "First line.\nSecond line,\tindented.\r\n",
    "joiner": "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
}


@pytest.fixture
def people(issuer) -> People:  # noqa: ANN001
    return People(issuer)


def _intake_with(member: list[str], text: str) -> dict[str, Any]:
    body = intake_body()
    holder = body
    for name in member[:-1]:
        holder[name] = dict(holder[name])
        holder = holder[name]
    holder[member[-1]] = text
    return body


INTAKE_MEMBERS = {
    "preferred_name": ["identity", "preferred_name"],
    "narrative": ["trafficking", "narrative"],
    "recruitment_location": ["trafficking", "recruitment_location"],
}


@pytest.mark.parametrize("kind", POISON)
@pytest.mark.parametrize("member", INTAKE_MEMBERS)
async def test_poison_text_at_intake_is_422_naming_the_member_and_appends_nothing(
    cases: httpx.AsyncClient, people: People, runtime: Runtime, kind: str, member: str
) -> None:
    path = INTAKE_MEMBERS[member]
    before = await runtime.pool.fetchval("SELECT count(*) FROM haven.events")
    response = await cases.post(
        "/v1/cases", json=_intake_with(path, POISON[kind]), headers=people.worker
    )
    problem = assert_problem(response, 422, "validation-error")
    assert [e["pointer"] for e in problem["errors"]] == ["/" + "/".join(path)], problem
    assert "Client" not in response.text and "x" * 100 not in response.text
    assert await runtime.pool.fetchval("SELECT count(*) FROM haven.events") == before
    for text in ORDINARY.values():  # control: ordinary text in the same member is accepted
        accepted = await cases.post(
            "/v1/cases", json=_intake_with(path, text), headers=people.worker
        )
        assert accepted.status_code == 201, accepted.text


@pytest.mark.parametrize("kind", ["nul", "escape", "too long"])
@pytest.mark.parametrize(
    ("route", "example", "member"),
    [
        ("services", RECORD_SERVICE_EXAMPLE, "notes"),
        ("goals", SET_GOAL_EXAMPLE, "description"),
        ("services", RECORD_SERVICE_EXAMPLE, "service_id"),
    ],
)
async def test_poison_text_in_a_command_is_422_naming_the_member(
    cases: httpx.AsyncClient,
    people: People,
    runtime: Runtime,
    kind: str,
    route: str,
    example: dict[str, Any],
    member: str,
) -> None:
    case_id, version = await prepared(cases, people, [])
    response = await cases.post(
        f"/v1/cases/{case_id}/{route}",
        json={**example, member: POISON[kind]},
        headers=at(people.worker, version),
    )
    problem = assert_problem(response, 422, "validation-error")
    assert [e["pointer"] for e in problem["errors"]] == [f"/{member}"], problem
    assert await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == version
    accepted = await cases.post(
        f"/v1/cases/{case_id}/{route}", json=example, headers=at(people.worker, version)
    )
    assert accepted.status_code == 200, accepted.text  # control


async def test_a_nul_in_an_id_named_by_the_path_is_refused_not_a_500(
    cases: httpx.AsyncClient, people: People
) -> None:
    case_id, version = await prepared(cases, people, [])
    response = await cases.post(
        f"/v1/cases/{case_id}/consents/consent%00one/revocation",
        json={"revoked_on": "2026-02-01", "method": "written"},
        headers=at(people.worker, version),
    )
    assert_problem(response, 422, "invalid-value")


@pytest.mark.parametrize("kind", POISON)
def test_the_domain_refuses_poison_text_in_a_command_built_without_the_api(kind: str) -> None:
    assert decide(CaseState(), open_case_command(), context())  # control: the ordinary command
    command = open_case_command()
    poisoned = open_case_command(identity=type(command.identity)(preferred_name=POISON[kind]))
    with pytest.raises(InvalidValue, match="/identity/preferred_name"):
        decide(CaseState(), poisoned, context())


def test_the_rule_depends_on_the_member_name() -> None:
    assert (
        member_rule("worker_id") == "identifier"
        and member_rule("recipient_organisation") == "identifier"
    )
    assert member_rule("narrative") == "long text" and member_rule("preferred_name") == "text"
    assert is_text("a" * MAX_TEXT_LENGTH) and not is_text("a" * (MAX_TEXT_LENGTH + 1))
    assert is_text("b" * MAX_LONG_TEXT_LENGTH, max_length=MAX_LONG_TEXT_LENGTH)
    assert all(is_text(text) for text in ORDINARY.values())
    assert not any(is_text(text) for name, text in POISON.items() if name != "too long")
    # a mapping's key is content: a fault in one is reported at the mapping, without the key
    faults = list(text_faults({"scores": {"safety\x00": 3}}))
    assert faults == [("", "must have keys of at most 256 printable characters")]

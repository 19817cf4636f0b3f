"""Attack: poison identifiers. A case worker names a worker or team id holding a NUL, a line
break, or 8,000 characters at intake, assignment or transfer. PostgreSQL's text refuses a NUL
and an index refuses a key that long, so such an id reaching an event would stop the read
models of every organisation. Every id is refused at the edge with 422 naming the field, and
nothing is appended; a command built without the API is refused by the domain too.

Controls: the same requests with an ordinary id are accepted, and the schema before this rule
(a length limit alone) lets the NUL through.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

import httpx
import msgspec
import pytest

from domain.case.decide import decide
from domain.case.errors import InvalidValue
from domain.case.state import CaseState
from domain.identifiers import MAX_IDENTIFIER_LENGTH, is_identifier
from services.api.cases.schemas.examples import (
    TRANSFER_CASE_EXAMPLE,
    TRANSFER_CONSENT_EXAMPLE,
)
from services.api.cases.schemas.requests import Identifier
from services.bootstrap import Runtime
from tests.api.conftest import ORG
from tests.api.test_case_command_routes import People, at, prepared
from tests.api.test_case_routes import assert_problem, intake_body
from tests.domain.builders import context, open_case_command

POISON = {
    "nul": "worker\x00one",
    "line break": "worker\none",
    "too long": "w" * 8000,
    "blank": "   ",
    "invisible": "worker\u200bone",
}
ORDINARY = "worker-7"


@pytest.fixture
def people(issuer) -> People:  # noqa: ANN001
    return People(issuer)


async def _log_size(runtime: Runtime) -> int:
    return await runtime.pool.fetchval("SELECT count(*) FROM haven.events")


def _names(problem: dict, member: str) -> bool:
    return any(error["pointer"] == f"/{member}" for error in problem.get("errors", []))


@pytest.mark.parametrize("kind", POISON)
@pytest.mark.parametrize("member", ["worker_id", "team_id"])
async def test_a_poison_id_at_intake_is_422_naming_the_field_and_appends_nothing(
    cases: httpx.AsyncClient, people: People, runtime: Runtime, kind: str, member: str
) -> None:
    before = await _log_size(runtime)
    response = await cases.post(
        "/v1/cases", json={**intake_body(), member: POISON[kind]}, headers=people.worker
    )
    problem = assert_problem(response, 422, "validation-error")
    assert _names(problem, member), problem
    assert "\x00" not in response.text and "w" * 300 not in response.text
    assert await _log_size(runtime) == before
    # control: an ordinary id in the same place is accepted
    accepted = await cases.post(
        "/v1/cases", json={**intake_body(), member: ORDINARY}, headers=people.worker
    )
    assert accepted.status_code == 201, accepted.text


@pytest.mark.parametrize("kind", POISON)
@pytest.mark.parametrize("member", ["worker_id", "team_id"])
async def test_a_poison_id_in_an_assignment_is_422_naming_the_field(
    cases: httpx.AsyncClient, people: People, runtime: Runtime, kind: str, member: str
) -> None:
    case_id, version = await prepared(cases, people, [])
    body = {"worker_id": ORDINARY, "assigned_on": dt.date.today().isoformat(), member: POISON[kind]}
    problem = assert_problem(
        await cases.post(
            f"/v1/cases/{case_id}/assignment", json=body, headers=at(people.supervisor, version)
        ),
        422,
        "validation-error",
    )
    assert _names(problem, member), problem
    assert await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == version


@pytest.mark.parametrize("kind", POISON)
@pytest.mark.parametrize(
    "member", ["recipient_organisation", "receiving_worker_id", "receiving_team_id"]
)
async def test_a_poison_id_in_a_transfer_is_422_naming_the_field(
    cases: httpx.AsyncClient, people: People, runtime: Runtime, kind: str, member: str
) -> None:
    case_id, version = await prepared(cases, people, [("consents", TRANSFER_CONSENT_EXAMPLE)])
    problem = assert_problem(
        await cases.post(
            f"/v1/cases/{case_id}/transfer",
            json={**TRANSFER_CASE_EXAMPLE, member: POISON[kind]},
            headers=at(people.worker, version),
        ),
        422,
        "validation-error",
    )
    assert _names(problem, member), problem
    assert await runtime.store.stream_version(ORG, uuid.UUID(case_id)) == version


def test_control_a_length_limit_alone_lets_the_nul_through() -> None:
    """The rule before: 1..256 characters. A NUL fits in that; the pattern refuses it."""
    length_only = msgspec.json.Decoder(
        dict[str, Annotated[str, msgspec.Meta(min_length=1, max_length=256)]]
    )
    assert length_only.decode(b'{"worker_id": "worker\\u0000one"}')["worker_id"] == POISON["nul"]
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.Decoder(dict[str, Identifier]).decode(b'{"worker_id": "worker\\u0000one"}')


@pytest.mark.parametrize("kind", POISON)
@pytest.mark.parametrize("member", ["worker_id", "team_id"])
def test_the_domain_refuses_a_poison_id_in_a_command_built_without_the_api(
    kind: str, member: str
) -> None:
    assert decide(CaseState(), open_case_command(), context())  # control: the ordinary command
    with pytest.raises(InvalidValue):
        decide(CaseState(), open_case_command(**{member: POISON[kind]}), context())


def test_the_rule_is_one_length_and_no_control_character() -> None:
    assert is_identifier("a" * MAX_IDENTIFIER_LENGTH) and not is_identifier(
        "a" * (MAX_IDENTIFIER_LENGTH + 1)
    )
    assert is_identifier("jane.doe@example.org") and is_identifier("équipe-nord")
    assert not any(
        is_identifier(v) for v in ("", " ", "a\x00", "a\x7f", "a\x85", "a\u2028", 7, None)
    )
    # invisible characters that make two ids look alike: a zero-width space, a no-break space
    assert not is_identifier("worker\u200b-1") and not is_identifier("worker\xa0-1")

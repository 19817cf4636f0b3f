"""The OpenAPI pieces every case route shares: its refusals, and the operations that declare
`If-Match`, `Idempotency-Key` and the `ETag` (and intake's `Location`) of the answer.

A handler never declares these headers as litestar parameters: litestar would answer a
missing one with its own 400, while Haven answers 428 `precondition-required` (and 412 for a
malformed tag), decided by the write path (`services.commands.case_commands`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIHeader, OpenAPIResponse, Operation, Parameter, Schema
from litestar.openapi.spec.enums import OpenAPIType

from services.api.cases.schemas.views import CommandAccepted, TransferAsked
from services.api.responses import REFUSALS, problem_spec

MAX_IDEMPOTENCY_KEY = 100
MAX_VERSION_DIGITS = 18
JSON = "application/json"
TAGS = ["cases"]


def accepted_spec(description: str, container: type = CommandAccepted) -> ResponseSpec:
    return ResponseSpec(
        data_container=container, media_type=JSON, generate_examples=False, description=description
    )


COMMAND_RESPONSES = {
    200: accepted_spec("The command was recorded; `ETag` names the case's new version."),
    **REFUSALS,
    409: problem_spec(
        "The case's state refuses the command (`case-closed`...), the case changed meanwhile "
        "(`concurrent-change`), or the Idempotency-Key is still in use."
    ),
    412: problem_spec(
        "If-Match names an older version, or is not a strong entity tag (`precondition-failed`)."
    ),
    422: problem_spec(
        "Invalid body (`validation-error`), a domain rule refused a value, or the "
        "Idempotency-Key was used for another request (`idempotency-key-reused`)."
    ),
    428: problem_spec("If-Match is missing (`precondition-required`)."),
}

TRANSFER_RESPONSES = {
    **COMMAND_RESPONSES,
    200: accepted_spec(
        "The request was recorded; the receiving organisation accepts or declines "
        "it (`/v1/transfers`). `ETag` names this case's new version.",
        TransferAsked,
    ),
    422: problem_spec(
        "Invalid body (`validation-error`, also for a receiving id that is not printable "
        "text), a domain rule refused a value, `receiving_worker_id` is not an active worker "
        "of the recipient's worker directory (`unknown-worker`), or the Idempotency-Key was "
        "used for another request (`idempotency-key-reused`)."
    ),
}
ASSIGN_RESPONSES = {
    **COMMAND_RESPONSES,
    403: problem_spec(
        "Not the supervisor of the case's team, or `team_id` names another team (`forbidden`)."
    ),
    422: problem_spec(
        "Invalid body (`validation-error`), a domain rule refused a value, or the "
        "organisation keeps a worker directory and `worker_id` is not an active worker of it "
        "(`unknown-worker`)."
    ),
}


def if_match_parameter(description: str, *, required: bool = True) -> Parameter:
    """The If-Match header naming a stream's version as its strong entity tag."""
    return Parameter(
        name="If-Match",
        param_in="header",
        required=required,
        schema=Schema(
            type=OpenAPIType.STRING, pattern=rf'^"[1-9][0-9]{{0,{MAX_VERSION_DIGITS - 1}}}"$'
        ),
        description=description,
        example='"1"',
    )


IF_MATCH_PARAMETER = if_match_parameter(
    "The case's current version as its strong entity tag "
    '(the `ETag` of the last answer), e.g. `"3"`. Missing: 428; another version, `*` or a weak '
    "tag: 412."
)
IDEMPOTENCY_KEY_PARAMETER = Parameter(
    name="Idempotency-Key",
    param_in="header",
    required=False,
    schema=Schema(type=OpenAPIType.STRING, min_length=1, max_length=MAX_IDEMPOTENCY_KEY),
    description=f"Optional, 1 to {MAX_IDEMPOTENCY_KEY} printable characters, unique per request: "
    "a retry with the same key and body gets the first answer; the same key with another "
    "request is 422.",
    example="retry-0001",
)


def with_parameters(parameters: list[Any] | None, *added: Parameter) -> list[Any]:
    """An operation's parameters with `added` declared (replacing any of the same name)."""
    names = {getattr(p, "name", None) for p in added}
    return [*(p for p in parameters or () if getattr(p, "name", None) not in names), *added]


ETAG_HEADER = OpenAPIHeader(
    schema=Schema(type=OpenAPIType.STRING),
    required=True,
    example='"2"',
    description="The case's version after this answer, a strong entity tag: send it "
    "back as `If-Match` with the next command.",
)
LOCATION_HEADER = OpenAPIHeader(
    schema=Schema(type=OpenAPIType.STRING),
    required=True,
    description="The new case: `/v1/cases/{case_id}`.",
)


def with_headers(responses: dict[str, Any] | None, status: str, **headers: OpenAPIHeader) -> None:
    """Declare `headers` on the answer with this status (when the operation has one)."""
    response = (responses or {}).get(status)
    if isinstance(response, OpenAPIResponse):
        response.headers = {**(response.headers or {}), **headers}


@dataclass
class CommandOperation(Operation):
    """A command's operation: declares If-Match (required) and Idempotency-Key (optional), and
    the ETag of its answer."""

    def __post_init__(self) -> None:
        self.parameters = with_parameters(
            self.parameters, IF_MATCH_PARAMETER, IDEMPOTENCY_KEY_PARAMETER
        )
        with_headers(self.responses, "200", ETag=ETAG_HEADER)


@dataclass
class IdempotentOperation(Operation):
    """Intake's operation: declares the optional Idempotency-Key, and the ETag and Location of
    its answer."""

    def __post_init__(self) -> None:
        self.parameters = with_parameters(self.parameters, IDEMPOTENCY_KEY_PARAMETER)
        with_headers(self.responses, "201", ETag=ETAG_HEADER, Location=LOCATION_HEADER)


@dataclass
class VersionedReadOperation(Operation):
    """A read of a case: declares the ETag of its answer (the version a command must name)."""

    def __post_init__(self) -> None:
        with_headers(self.responses, "200", ETag=ETAG_HEADER)

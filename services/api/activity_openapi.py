"""The OpenAPI pieces of the activity routes: their answers, and the operations that declare
`If-Match`, `Idempotency-Key` and the `ETag` (and a recording's `Location`).

As for the case routes (`services.api.cases.openapi`), a handler never declares these headers
as litestar parameters: a missing If-Match is Haven's 428, not litestar's 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.enums import RequestEncodingType
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIHeader, Operation, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import Body

from services.api.activity_schemas import ActivityAccepted
from services.api.cases.openapi import (
    IDEMPOTENCY_KEY_PARAMETER,
    if_match_parameter,
    with_headers,
    with_parameters,
)
from services.api.cases.schemas.examples import example
from services.api.responses import REFUSALS, problem_spec

TAGS = ["activities"]
JSON = "application/json"


def body(summary: str, value: dict[str, Any]) -> Any:
    return Body(media_type=RequestEncodingType.JSON, examples=example(summary, value))


def _accepted(description: str) -> ResponseSpec:
    return ResponseSpec(
        data_container=ActivityAccepted,
        media_type=JSON,
        generate_examples=False,
        description=description,
    )


_INVALID = problem_spec(
    "A member breaks its rule (`validation-error`, each member named by its pointer), or the "
    "Idempotency-Key was used for another request (`idempotency-key-reused`)."
)
RECORD_RESPONSES = {
    201: _accepted("Recorded: `Location` names the activity, `ETag` its version."),
    **REFUSALS,
    409: problem_spec("The Idempotency-Key is still in use (`idempotency-key-in-progress`)."),
    422: _INVALID,
}
COMMAND_RESPONSES = {
    200: _accepted("Recorded: `ETag` names the activity's version."),
    **REFUSALS,
    409: problem_spec(
        "The activity was withdrawn (`activity-withdrawn`), it changed meanwhile "
        "(`concurrent-change`), or the Idempotency-Key is still in use."
    ),
    412: problem_spec("If-Match names another version (`precondition-failed`)."),
    422: _INVALID,
    428: problem_spec("If-Match is missing (`precondition-required`)."),
}

IF_MATCH = if_match_parameter(
    "The activity's current version as its strong entity tag (the `ETag` of the "
    'last answer), e.g. `"1"`. Missing: 428; another version: 412.'
)
ETAG = OpenAPIHeader(
    schema=Schema(type=OpenAPIType.STRING),
    required=True,
    example='"1"',
    description="The activity's version, a strong entity tag: send it back as `If-Match`.",
)
LOCATION = OpenAPIHeader(
    schema=Schema(type=OpenAPIType.STRING),
    required=True,
    description="The activity: `/v1/activities/{activity_id}`.",
)


@dataclass
class ActivityRecordOperation(Operation):
    def __post_init__(self) -> None:
        self.parameters = with_parameters(self.parameters, IDEMPOTENCY_KEY_PARAMETER)
        with_headers(self.responses, "201", ETag=ETAG, Location=LOCATION)


@dataclass
class ActivityCommandOperation(Operation):
    def __post_init__(self) -> None:
        self.parameters = with_parameters(self.parameters, IF_MATCH, IDEMPOTENCY_KEY_PARAMETER)
        with_headers(self.responses, "200", ETag=ETAG)


@dataclass
class ActivityReadOperation(Operation):
    def __post_init__(self) -> None:
        with_headers(self.responses, "200", ETag=ETAG)

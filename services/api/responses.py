"""The OpenAPI answers every protected route shares: its refusals as problem+json."""

from __future__ import annotations

from litestar.openapi.datastructures import ResponseSpec

from services.api.identity_routes import AUTH_RESPONSES
from services.api.problems import PROBLEM_MEDIA_TYPE, Problem


def problem_spec(description: str) -> ResponseSpec:
    return ResponseSpec(
        data_container=Problem,
        media_type=PROBLEM_MEDIA_TYPE,
        generate_examples=False,
        description=description,
    )


REFUSALS = {
    **AUTH_RESPONSES,
    400: problem_spec("The body or a parameter could not be parsed (`bad-request`)."),
    403: problem_spec("The caller's role, assignment or team does not permit this (`forbidden`)."),
    404: problem_spec(
        "No such case for this caller, including another organisation's (`not-found`)."
    ),
}

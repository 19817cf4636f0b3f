"""`GET /v1/cases/{case_id}/export`: a survivor's own record, for the privacy officer who
answers the survivor's request.

The use case (`services.commands.case_export`) authorises the export, records it first (fail
closed: 503 and nothing exported when it cannot be recorded) and gathers the record, its
history and its access log; this route turns it into a download: JSON by default
(`Accept: application/json`), or a printable HTML document (`Accept: text/html`, or
`?format=html`, which wins over `Accept`). Never stored by a cache, never sniffed, always an
attachment. A missing, erased or another organisation's case is 404, as for every read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIHeader, OpenAPIMediaType, OpenAPIResponse, Operation
from litestar.openapi.spec import Schema as OpenAPISchema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import FromPath, Parameter

from services.api.cases import access
from services.api.cases.export_document import EXPORT_POLICY, render_html
from services.api.cases.http import team_access
from services.api.cases.openapi import JSON, TAGS
from services.api.cases.schemas.export import CaseExportView, export_json, export_view
from services.api.identity_routes import BEARER_SECURITY
from services.api.responses import REFUSALS, problem_spec
from services.bootstrap import Runtime
from services.commands import case_export, case_reads
from services.identity import Principal

HTML = "text/html"
_STRING = OpenAPISchema(type=OpenAPIType.STRING)
_HEADERS = {
    "Content-Disposition": OpenAPIHeader(
        schema=_STRING,
        required=True,
        description='`attachment; filename="case-<id>-export.json"` (or `.html`).',
    ),
    "Cache-Control": OpenAPIHeader(schema=_STRING, required=True, description="`no-store`."),
    "X-Content-Type-Options": OpenAPIHeader(
        schema=_STRING, required=True, description="`nosniff`."
    ),
}


@dataclass
class ExportOperation(Operation):
    """The export's operation: its answer in JSON or HTML, and the headers of a download."""

    def __post_init__(self) -> None:
        response = (self.responses or {}).get("200")
        if isinstance(response, OpenAPIResponse):
            response.headers = {**(response.headers or {}), **_HEADERS}
            response.content = {
                **(response.content or {}),
                HTML: OpenAPIMediaType(schema=_STRING),
            }


@get(
    "/v1/cases/{case_id:uuid}/export",
    operation_id="exportCase",
    tags=TAGS,
    summary="Everything held about one case, for the survivor who asked (privacy officer)",
    description="The record (immigration milestones included), every event of its history "
    "decrypted with when and by whom it was recorded, its access log (this export's own record "
    "first) and its break-the-glass grants with their reasons. The export is recorded before "
    "anything is answered. JSON, or a printable HTML document for `Accept: text/html` or "
    "`?format=html`.",
    security=BEARER_SECURITY,
    operation_class=ExportOperation,
    responses={
        200: ResponseSpec(
            data_container=CaseExportView,
            media_type=JSON,
            generate_examples=False,
            description="The case's export, as an attachment.",
        ),
        **REFUSALS,
        422: problem_spec("`format` is neither `json` nor `html` (`validation-error`)."),
        503: problem_spec("The export could not be recorded, so nothing is exported."),
    },
)
async def export_case(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    case_id: FromPath[uuid.UUID],
    export_format: Annotated[
        Literal["json", "html"] | None,
        Parameter(
            query="format",
            required=False,
            description="`html` for the printable document, `json` for the data; "
            "default: by `Accept`, else JSON.",
        ),
    ] = None,
) -> Response[Any]:
    reader = case_reads.Reader(request.user, access.request_id(request), team_access(request))
    chosen = export_format or _by_accept(request)
    view = export_view(await case_export.export_case(runtime, reader, case_id))
    headers = {
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'attachment; filename="case-{case_id}-export.{chosen}"',
    }
    if chosen == "html":
        headers["Content-Security-Policy"] = EXPORT_POLICY
        return Response(
            content=render_html(view).encode(),
            media_type=f"{HTML}; charset=utf-8",
            headers=headers,
        )
    return Response(content=export_json(view), media_type=JSON, headers=headers)


def _by_accept(request: Request[Principal, Any, Any]) -> str:
    best = request.accept.best_match([JSON, HTML], default=JSON)
    return "html" if best == HTML else "json"


EXPORT_ROUTES = [export_case]

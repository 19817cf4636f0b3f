"""The OpenAPI document declares the ETag every case answer carries (and intake's Location),
so a client generated from it knows where the next If-Match comes from."""

from __future__ import annotations

from services.api.app import create_app
from services.settings import Settings


def document() -> dict:
    app = create_app(runtime=None, verifier=None, settings=Settings.from_environ({}))  # type: ignore[arg-type]
    return app.openapi_schema.to_schema()


def test_every_command_and_the_case_read_declare_their_etag() -> None:
    paths = document()["paths"]
    commands = [
        (path, method, operation)
        for path, item in paths.items()
        for method, operation in item.items()
        if any(p.get("name") == "If-Match" for p in operation.get("parameters", []))
    ]
    assert len(commands) >= 17
    for path, method, operation in commands:
        assert "ETag" in operation["responses"]["200"].get("headers", {}), (method, path)
    assert "ETag" in paths["/v1/cases/{case_id}"]["get"]["responses"]["200"]["headers"]
    assert set(paths["/v1/cases"]["post"]["responses"]["201"]["headers"]) == {"ETag", "Location"}


def test_routes_that_send_no_etag_declare_none() -> None:
    """Control: the declaration is per operation, not blanket."""
    paths = document()["paths"]
    assert "ETag" not in paths["/v1/caseload"]["get"]["responses"]["200"].get("headers", {})
    assert "ETag" not in paths["/v1/cases/{case_id}/history"]["get"]["responses"]["200"].get(
        "headers", {}
    )

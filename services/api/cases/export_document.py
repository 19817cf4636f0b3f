"""A case's export as a readable, printable HTML document (`templates/case_export.html`).

The document stands alone: it is downloaded and may be opened from a disk, printed or handed
to the survivor, so it carries its style inline and fetches nothing. It runs no script: the
policy it is served with (`EXPORT_POLICY`, also in the document's own `<meta>`) allows
nothing but its one style element, by that element's hash. Every value is escaped
(autoescape): a survivor's field that holds markup is shown as text.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import msgspec
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.api.cases.schemas.export import CaseExportView

STYLE = (
    "body{font-family:system-ui,sans-serif;line-height:1.45;margin:2rem auto;max-width:60rem;"
    "padding:0 1rem;color:#111;background:#fff}"
    "h1{font-size:1.6rem}h2{font-size:1.3rem;border-bottom:1px solid #999;margin-top:2rem}"
    "h3{font-size:1.05rem;margin-bottom:.25rem}"
    "table{border-collapse:collapse;width:100%;margin:.5rem 0}"
    "caption{text-align:left;font-style:italic;padding:.25rem 0}"
    "th,td{border:1px solid #999;padding:.3rem .4rem;text-align:left;vertical-align:top}"
    "dl{margin:.25rem 0}dt{font-weight:600}dd{margin:0 0 .3rem 1rem}"
    "ul{margin:.25rem 0;padding-left:1.2rem}.none{color:#555;font-style:italic}"
    "td,dd{overflow-wrap:anywhere}"
    "@media print{body{margin:0;max-width:none}h2{break-after:avoid}tr{break-inside:avoid}}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
_DOCUMENT_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; form-action 'none'"
)
# As served: the document's own policy, and no framing.
EXPORT_POLICY = f"{_DOCUMENT_POLICY}; frame-ancestors 'none'"

_ENVIRONMENT = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def render_html(view: CaseExportView) -> str:
    builtins: dict[str, Any] = msgspec.to_builtins(view)
    return _ENVIRONMENT.get_template("case_export.html").render(
        export=builtins,
        record={k: v for k, v in builtins["record"].items() if k != "case_id"},
        history=builtins["history"],
        access_log=builtins["access_log"],
        grants=builtins["grants"],
        screenings=builtins["screenings"],
        style=STYLE,
        policy=_DOCUMENT_POLICY,
    )

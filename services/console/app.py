"""The console mounted in the API's app: its router (pages, static files, error pages), its
templates, and the state its handlers share (`Console`)."""

from __future__ import annotations

import time
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Router
from litestar.di import Provide
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.stores.base import Store
from litestar.template.config import TemplateConfig

from services.api.auth import Verifier
from services.console import i18n
from services.console.activity_pages import ACTIVITY_PAGES
from services.console.case_form_pages import CASE_FORM_PAGES
from services.console.caseload_page import CASELOAD_PAGES
from services.console.directory_page import DIRECTORY_PAGES
from services.console.inbox_page import INBOX_PAGES
from services.console.language import LANGUAGE_PAGES
from services.console.pages import PAGES
from services.console.preferences import Preferences, preferences_store
from services.console.privacy import PRIVACY_PAGES
from services.console.reassign import REASSIGN_PAGES
from services.console.reports import REPORT_PAGES
from services.console.screening_pages import SCREENING_PAGES
from services.console.screening_summary_page import SCREENING_SUMMARY_PAGES
from services.console.search_page import SEARCH_PAGES
from services.console.sessions import Clock, Sessions, file_store
from services.console.sign_in import SIGN_IN_PAGES
from services.console.supervisor import SUPERVISOR_PAGES
from services.console.task_actions import TASK_ACTION_PAGES
from services.console.transfer_pages import TRANSFER_PAGES
from services.console.web import PREFIX, Console, console_error
from services.settings import Settings

HERE = Path(__file__).parent


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    environment = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    i18n.install(environment)
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def console_router(
    *,
    verifier: Verifier,
    settings: Settings,
    store: Store | None = None,
    preferences: Store | None = None,
    clock: Clock = time.time,
) -> Router:
    console = Console(
        sessions=Sessions(
            store or file_store(settings.data_dir), settings.console_idle_minutes * 60, clock
        ),
        preferences=Preferences(preferences or preferences_store(settings.data_dir)),
        verifier=verifier,
        settings=settings,
    )

    def provide_console() -> Console:
        return console

    return Router(
        path=PREFIX,
        route_handlers=[
            *SIGN_IN_PAGES,
            *CASELOAD_PAGES,
            *SEARCH_PAGES,
            *PAGES,
            *CASE_FORM_PAGES,
            *TRANSFER_PAGES,
            *SUPERVISOR_PAGES,
            *REASSIGN_PAGES,
            *TASK_ACTION_PAGES,
            *INBOX_PAGES,
            *PRIVACY_PAGES,
            *REPORT_PAGES,
            *LANGUAGE_PAGES,
            *DIRECTORY_PAGES,
            *SCREENING_SUMMARY_PAGES,
            *SCREENING_PAGES,
            *ACTIVITY_PAGES,
            create_static_files_router(path="/static", directories=[HERE / "static"]),
        ],
        dependencies={"console": Provide(provide_console, sync_to_thread=False)},
        exception_handlers={Exception: console_error},
        include_in_schema=False,
    )

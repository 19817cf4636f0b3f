"""What Haven tells its operators: JSON logs that carry no survivor data.

* `services.observability.logging`: `configure_logging` (structlog and the stdlib root, once,
  at start-up), the allow-list redactor, request-context helpers.
"""

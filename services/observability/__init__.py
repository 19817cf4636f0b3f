"""What Haven tells its operators: JSON logs that carry no survivor data.

* `services.observability.logging`: `configure_logging` (structlog and the stdlib root, once,
  at start-up), the allow-list redactor, request-context helpers, and `get_logger(component)`,
  the one way to obtain a logger (defined in `crypto.loggers`, so that every layer reaches it).
"""

"""The case workers' web console: server-rendered pages under `/console/`, over the same use
cases and authorisation as the API (docs/console.md)."""

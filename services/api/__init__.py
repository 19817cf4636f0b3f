"""Haven's HTTP API."""

"""Event schemas, the PostgreSQL event store, migrations and subscriptions."""

-- Streams a projection set aside because it could not apply one of their events
-- (projections/quarantine.py). The log goes on for everyone else; the stream's rows in that
-- projection's tables are removed (its view is unavailable, the API reads the stream instead)
-- until an administrator has mended the cause and rebuilt the projection. What is recorded
-- names the event, never its content: the error's class, not its message.
CREATE TABLE haven.projection_quarantine (
    projection     text        NOT NULL,
    tenant_id      text        NOT NULL,
    stream_id      uuid        NOT NULL,
    transaction_id xid8        NOT NULL,
    position       bigint      NOT NULL,
    version        integer     NOT NULL,
    event_type     text        NOT NULL,
    error_class    text        NOT NULL,
    quarantined_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, tenant_id, stream_id)
);

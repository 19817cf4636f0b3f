-- Read models (see projections/). Their tables are created by the projections themselves,
-- one generation at a time (`views.<table>_g<N>`), and read through stable views
-- (`views.<table>`), so a rebuild fills generation N+1 while readers see generation N, and the
-- swap is one transaction. `reporting` holds the de-identified federal inputs only.
CREATE SCHEMA views;
CREATE SCHEMA reporting;

-- One row per projection: how far it has applied the global log (events.log_order), into
-- which generation of its tables, built by which code (fingerprint). Written in the same
-- transaction as the projection's own writes, after a FOR UPDATE check that nobody else
-- moved it (the fence that makes a crash, a second worker or a rebuild harmless).
CREATE TABLE haven.projection_checkpoints (
    name           text        PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,39}$'),
    generation     integer     NOT NULL CHECK (generation >= 1),
    fingerprint    text        NOT NULL,
    transaction_id xid8        NOT NULL,
    position       bigint      NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

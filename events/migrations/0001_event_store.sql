-- The event store: stream heads (with wrapped data keys) and sealed events.
-- Every key starts with tenant_id so the tables can later be distributed by tenant.

CREATE TABLE haven.streams (
    tenant_id    text        NOT NULL,
    stream_id    uuid        NOT NULL,
    version      integer     NOT NULL CHECK (version >= 1),
    head_hash    bytea       NOT NULL CHECK (length(head_hash) = 32),
    key_id       text        NOT NULL,
    kek_id       text        NOT NULL,
    wrapped_key  bytea,                       -- NULL once crypto-shredded
    shredded_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, stream_id),
    CHECK ((wrapped_key IS NULL) = (shredded_at IS NOT NULL))
);

CREATE SEQUENCE haven.event_position AS bigint;

CREATE TABLE haven.events (
    tenant_id       text        NOT NULL,
    stream_id       uuid        NOT NULL,
    version         integer     NOT NULL CHECK (version >= 1),
    position        bigint      NOT NULL DEFAULT nextval('haven.event_position'),
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_type      text        NOT NULL,
    schema_version  smallint    NOT NULL,
    key_id          text        NOT NULL,
    recorded_at     timestamptz NOT NULL,
    ciphertext      bytea       NOT NULL,
    chain_hash      bytea       NOT NULL CHECK (length(chain_hash) = 32),
    -- the optimistic-concurrency check: a second writer of the same version fails here
    PRIMARY KEY (tenant_id, stream_id, version)
);
ALTER SEQUENCE haven.event_position OWNED BY haven.events.position;

-- Subscribers read the log in (transaction_id, position) order; see events/log_order.py.
CREATE INDEX events_log_order ON haven.events (transaction_id, position);

-- Appending is one statement (events/store.py), which calls this guard before it writes.
-- Readers that must not skip a late commit find appenders through a shared advisory lock
-- (events/log_order.py): it must be taken before the transaction has an xid, and an append
-- to an existing stream must be its transaction's first write (HV001 otherwise). Shared,
-- so appenders never wait for each other. A transaction-local setting remembers the lock,
-- so later appends of new streams in the same transaction need not look it up.
CREATE FUNCTION haven.enter_append(p_expected integer) RETURNS boolean
LANGUAGE plpgsql
AS $$
BEGIN
    IF pg_current_xact_id_if_assigned() IS NOT NULL
       AND (p_expected > 0 OR coalesce(current_setting('haven.append_lock', true), '') <> 'held') THEN
        RAISE EXCEPTION 'append must be the first write of its transaction' USING ERRCODE = 'HV001';
    END IF;
    PERFORM pg_advisory_xact_lock_shared(1214346853, 1);
    PERFORM set_config('haven.append_lock', 'held', true);
    RETURN true;
END;
$$;

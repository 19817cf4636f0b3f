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

-- Appending. One round trip: take the shared append lock, check and move the stream head,
-- extend the hash chain (crypto/chain.py computes the same function), insert the events and
-- wake subscribers. Error codes: HV409 stale expected version, HV410 stream erased,
-- HV412 data key id does not match the stream's, HV001 append after another write.
CREATE FUNCTION haven.append_events(
    p_tenant          text,
    p_stream          uuid,
    p_expected        integer,
    p_key_id          text,
    p_kek_id          text,
    p_wrapped_key     bytea,
    p_types           text[],
    p_schema_versions smallint[],
    p_recorded_at     timestamptz[],
    p_headers         bytea[],
    p_ciphertexts     bytea[]
) RETURNS TABLE (version integer, "position" bigint, transaction_id xid8)
LANGUAGE plpgsql
AS $$
DECLARE
    v_count  integer := cardinality(p_ciphertexts);
    v_prev   bytea;
    v_key_id text;
    v_erased boolean;
    v_links  bytea[] := ARRAY[]::bytea[];
BEGIN
    IF v_count IS NULL OR v_count = 0 THEN
        RAISE EXCEPTION 'append needs at least one event' USING ERRCODE = '22023';
    END IF;
    -- Readers that must not skip a late commit find appenders through this shared lock
    -- (events/log_order.py). It must be taken before the transaction has an xid, and an
    -- append to an existing stream must be its transaction's first write.
    IF pg_current_xact_id_if_assigned() IS NOT NULL AND (
        p_expected > 0 OR NOT EXISTS (
            SELECT 1 FROM pg_locks
             WHERE pid = pg_backend_pid() AND locktype = 'advisory'
               AND classid = 1214346853 AND objid = 1 AND objsubid = 2))
    THEN
        RAISE EXCEPTION 'append must be the first write of its transaction' USING ERRCODE = 'HV001';
    END IF;
    PERFORM pg_advisory_xact_lock_shared(1214346853, 1);

    IF p_expected = 0 THEN
        v_prev := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
    ELSE
        SELECT s.head_hash, s.key_id, s.wrapped_key IS NULL INTO v_prev, v_key_id, v_erased
          FROM haven.streams s
         WHERE s.tenant_id = p_tenant AND s.stream_id = p_stream AND s.version = p_expected
           FOR NO KEY UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'stream is not at the expected version' USING ERRCODE = 'HV409';
        ELSIF v_erased THEN
            RAISE EXCEPTION 'stream is erased' USING ERRCODE = 'HV410';
        ELSIF v_key_id <> p_key_id THEN
            RAISE EXCEPTION 'data key id does not match the stream' USING ERRCODE = 'HV412';
        END IF;
    END IF;

    FOR i IN 1 .. v_count LOOP
        v_prev := sha256('haven.chain.v1'::bytea || v_prev
                         || int4send(length(p_headers[i])) || p_headers[i] || p_ciphertexts[i]);
        v_links := v_links || v_prev;
    END LOOP;

    IF p_expected = 0 THEN
        INSERT INTO haven.streams (tenant_id, stream_id, version, head_hash, key_id, kek_id, wrapped_key)
        VALUES (p_tenant, p_stream, v_count, v_prev, p_key_id, p_kek_id, p_wrapped_key);
    ELSE
        UPDATE haven.streams s SET version = p_expected + v_count, head_hash = v_prev
         WHERE s.tenant_id = p_tenant AND s.stream_id = p_stream;
    END IF;

    RETURN QUERY
    INSERT INTO haven.events AS e (tenant_id, stream_id, version, event_type, schema_version,
                                   key_id, recorded_at, ciphertext, chain_hash)
    SELECT p_tenant, p_stream, p_expected + i, p_types[i], p_schema_versions[i],
           p_key_id, p_recorded_at[i], p_ciphertexts[i], v_links[i]
      FROM generate_subscripts(p_ciphertexts, 1) AS i
    RETURNING e.version, e.position, e.transaction_id;

    PERFORM pg_notify('haven_events', '');
END;
$$;

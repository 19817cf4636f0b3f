-- Access records (who read which part of which case, and why), break-the-glass grants, and
-- idempotency keys for retried commands. See events/access_log.py and events/idempotency.py.
-- Every key starts with tenant_id, as in 0001.

-- Audit tables are append-only: no UPDATE, no DELETE (HV010). TRUNCATE is not a row operation
-- and is not caught here: the application role must hold INSERT and SELECT on these tables
-- only (no TRUNCATE, not the owner — an owner could also disable the trigger).
CREATE FUNCTION haven.forbid_change() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'HV010';
END;
$$;

CREATE TABLE haven.break_glass_grants (
    tenant_id     text        NOT NULL,
    grant_id      uuid        NOT NULL,
    case_id       uuid        NOT NULL,
    actor_id      text        NOT NULL CHECK (actor_id <> ''),
    granted_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    -- the reason may mention the survivor: sealed with the case's data key
    -- (associated data: events.access_log.grant_header)
    reason_sealed bytea       NOT NULL,
    key_id        text        NOT NULL,
    PRIMARY KEY (tenant_id, grant_id),
    -- target of access_records' foreign key: a break-glass access must name a grant of the
    -- same case and the same actor
    UNIQUE (tenant_id, grant_id, case_id, actor_id),
    CHECK (expires_at > granted_at AND expires_at <= granted_at + interval '240 minutes')
);
CREATE INDEX break_glass_grants_by_case ON haven.break_glass_grants (tenant_id, case_id, actor_id, expires_at);
CREATE TRIGGER break_glass_grants_append_only BEFORE UPDATE OR DELETE ON haven.break_glass_grants
    FOR EACH ROW EXECUTE FUNCTION haven.forbid_change();

CREATE TABLE haven.access_records (
    tenant_id    text        NOT NULL,
    record_id    bigint      GENERATED ALWAYS AS IDENTITY,
    case_id      uuid        NOT NULL,
    accessed_at  timestamptz NOT NULL DEFAULT now(),
    actor_id     text        NOT NULL CHECK (actor_id <> ''),
    role         text        NOT NULL CHECK (role <> ''),
    part         text        NOT NULL CHECK (part ~ '^[a-z][a-z0-9-]{0,39}$'),
    basis        text        NOT NULL CHECK (basis IN ('assignment', 'team', 'break-glass', 'privacy-review')),
    grant_id     uuid,
    request_id   text,
    PRIMARY KEY (tenant_id, record_id),
    CHECK ((basis = 'break-glass') = (grant_id IS NOT NULL)),
    FOREIGN KEY (tenant_id, grant_id, case_id, actor_id)
        REFERENCES haven.break_glass_grants (tenant_id, grant_id, case_id, actor_id)
);
CREATE INDEX access_records_by_case ON haven.access_records (tenant_id, case_id, accessed_at);
CREATE TRIGGER access_records_append_only BEFORE UPDATE OR DELETE ON haven.access_records
    FOR EACH ROW EXECUTE FUNCTION haven.forbid_change();

-- Command results by Idempotency-Key, scoped to the caller. The response body is stored in
-- plain: command responses carry only ids and versions, never case content.
CREATE TABLE haven.idempotency_keys (
    tenant_id     text        NOT NULL,
    actor_id      text        NOT NULL,
    key           text        NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash  bytea       NOT NULL CHECK (length(request_hash) = 32),
    status        integer     CHECK (status BETWEEN 100 AND 599),
    response_body bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, actor_id, key),
    CHECK ((status IS NULL) = (response_body IS NULL))
);
CREATE INDEX idempotency_keys_expiry ON haven.idempotency_keys (created_at);

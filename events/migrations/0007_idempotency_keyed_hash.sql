-- Idempotency keys are stored as a keyed hash, never as the client's text: HMAC-SHA-256 of
-- (caller, key) under a secret of the organisation's own, kept here wrapped by its KEK
-- (events/idempotency.py, `KeyHasher`). A stored answer names the case it is about, so an
-- erasure removes it with the case. Keys stored in plain before are dropped: a retry in flight
-- across the upgrade runs afresh, and the If-Match check answers 412 if its command had committed.
DELETE FROM haven.idempotency_keys;
ALTER TABLE haven.idempotency_keys
    ADD CONSTRAINT idempotency_key_is_a_keyed_hash CHECK (key ~ '^[0-9a-f]{64}$'),
    ADD COLUMN case_id uuid;
CREATE INDEX idempotency_keys_by_case ON haven.idempotency_keys (tenant_id, case_id);

CREATE TABLE haven.tenant_secrets (
    tenant_id  text        NOT NULL,
    purpose    text        NOT NULL CHECK (purpose IN ('idempotency')),
    kek_id     text        NOT NULL,
    wrapped    bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, purpose)
);

-- Differential-privacy mode of federal reporting (services/reporting/dp.py, REFERENCE §3.9):
-- the per-client privacy budget ledger and the release cache. Keyed by the `subject` pseudonym
-- of reporting.federal_inputs; nothing here is ever released.
CREATE SCHEMA dp;

-- One row per DP release actually drawn. `fingerprint` is a SHA-256 over the release's
-- definition and its bounded true counts (as private as the counts); `output` is the noisy
-- release exactly as published (json, not jsonb: a cache hit returns the same text).
CREATE TABLE dp.releases (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    release_key      text        NOT NULL,
    fingerprint      bytea       NOT NULL CHECK (length(fingerprint) = 32),
    period           text        NOT NULL,
    codebook_version text        NOT NULL,
    epsilon          numeric     NOT NULL CHECK (epsilon > 0),
    output           json        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (release_key, fingerprint)
);

-- What each release charged each counted client (the audit trail of the ledger).
CREATE TABLE dp.spends (
    subject    uuid    NOT NULL,
    release_id bigint  NOT NULL REFERENCES dp.releases (id),
    epsilon    numeric NOT NULL CHECK (epsilon > 0),
    PRIMARY KEY (subject, release_id)
);
CREATE INDEX spends_by_release ON dp.spends (release_id);

-- Each client's running total (the sum of its spends), checked before every release.
CREATE TABLE dp.balances (
    subject uuid    PRIMARY KEY,
    spent   numeric NOT NULL CHECK (spent >= 0)
);

-- The reporting job runs the DP mode as haven_reporting (migration 0004): it reads and
-- appends releases and spends and moves balances, and nothing else here. Idempotent; skipped
-- when the role does not exist (0004 explains how to create it, then call this).
CREATE FUNCTION dp.grant_reporting_access() RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'haven_reporting') THEN
        RAISE NOTICE 'role haven_reporting does not exist: dp grants skipped';
        RETURN;
    END IF;
    GRANT USAGE ON SCHEMA dp TO haven_reporting;
    GRANT SELECT, INSERT ON dp.releases, dp.spends TO haven_reporting;
    GRANT SELECT, INSERT, UPDATE ON dp.balances TO haven_reporting;
END;
$$;

SELECT dp.grant_reporting_access();

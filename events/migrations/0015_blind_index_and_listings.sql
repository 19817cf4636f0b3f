-- Search within an organisation (docs/security.md#blind-index). Each organisation gets a
-- blind-index secret of its own, kept wrapped by its KEK beside its idempotency secret: the
-- index holds keyed hashes (HMAC-SHA-256) of normalised names, dates of birth and phone
-- numbers, never the values, and a hash made under one organisation's secret says nothing in
-- another's. The index itself is a projection (projections/case_finder.py).
ALTER TABLE haven.tenant_secrets DROP CONSTRAINT tenant_secrets_purpose_check;
ALTER TABLE haven.tenant_secrets
    ADD CONSTRAINT tenant_secrets_purpose_check CHECK (purpose IN ('idempotency', 'blind-index'));

-- Listings that showed clients' names (a worker's caseload) and searches, one record each, in
-- the access log beside the per-case records: who, when, what kind (for a search the fields
-- searched by, never the terms), how many cases it answered with and which (ids only).
-- Append-only, like haven.access_records.
CREATE TABLE haven.access_listings (
    tenant_id    text        NOT NULL,
    listing_id   bigint      GENERATED ALWAYS AS IDENTITY,
    accessed_at  timestamptz NOT NULL DEFAULT now(),
    actor_id     text        NOT NULL CHECK (actor_id <> ''),
    role         text        NOT NULL CHECK (role <> ''),
    kind         text        NOT NULL CHECK (kind IN ('caseload', 'search')),
    searched_by  text[]      NOT NULL DEFAULT '{}'
                 CHECK (searched_by <@ ARRAY['name', 'alias', 'date_of_birth', 'phone']),
    case_ids     uuid[]      NOT NULL,
    request_id   text,
    PRIMARY KEY (tenant_id, listing_id),
    CHECK ((kind = 'search') = (cardinality(searched_by) > 0))
);
CREATE INDEX access_listings_by_case ON haven.access_listings USING gin (case_ids);
CREATE TRIGGER access_listings_append_only BEFORE UPDATE OR DELETE ON haven.access_listings
    FOR EACH ROW EXECUTE FUNCTION haven.forbid_change();
REVOKE ALL ON haven.access_listings FROM PUBLIC;
DO $grant$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'haven_app') THEN
        GRANT SELECT, INSERT ON haven.access_listings TO haven_app;
    END IF;
END
$grant$;

-- Disclosures and system decryptions in the access log (docs/security.md#accounting-of-disclosures).
--
-- A disclosure (basis 'disclosure') is a release of a case's data to another organisation: a
-- referral sent to it, a transfer it accepted. Its record names the recipient organisation,
-- the data categories released (codebook `data_category` codes) and the consent relied on
-- (a consent is never changed once granted: its id names the terms). Ids and codes only,
-- never content. A system access (basis 'system', actor 'system') is a decryption no person
-- asked for: a projection rebuild, `haven verify`; `purpose` says which (a code). The table
-- stays append-only.
ALTER TABLE haven.access_records DROP CONSTRAINT access_records_basis_check;
ALTER TABLE haven.access_records
    ADD CONSTRAINT access_records_basis_check CHECK (basis IN
        ('assignment', 'team', 'break-glass', 'privacy-review', 'disclosure', 'system'));
ALTER TABLE haven.access_records
    ADD COLUMN recipient  text CHECK (recipient <> ''),
    ADD COLUMN categories text[],
    ADD COLUMN consent_id text CHECK (consent_id <> ''),
    ADD COLUMN purpose    text CHECK (purpose ~ '^[a-z][a-z0-9_.-]{0,63}$'),
    ADD CONSTRAINT access_records_disclosure_check CHECK (
        (basis = 'disclosure') = (recipient IS NOT NULL)
        AND (basis = 'disclosure') = (categories IS NOT NULL)
        AND (consent_id IS NULL OR basis = 'disclosure')),
    ADD CONSTRAINT access_records_system_check CHECK (
        (basis = 'system') = (purpose IS NOT NULL)
        AND (basis <> 'system' OR actor_id = 'system'));

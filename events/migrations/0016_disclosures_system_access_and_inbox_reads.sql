-- Disclosures, system decryptions and inbox reads in the access log
-- (docs/security.md#accounting-of-disclosures). The table stays append-only.
--
-- A disclosure (basis 'disclosure') is a release of a case's data to another organisation: a
-- referral sent to it, a transfer it accepted. Its record names the case event that released
-- the data (`event_version`), not the recipient, categories or consent in plain: the
-- recipient of a referral outside Haven is whatever the worker typed, which may say something
-- about the survivor. The event holds them sealed under the case's data key; the case's access
-- log opens them, and crypto-shredding the case makes them unreadable with the rest.
--
-- A system access (basis 'system', actor 'system') is a decryption no person asked for: a
-- projection rebuild, `haven verify`; `purpose` says which (a code).
--
-- An inbox read (basis 'inbox') is a read of a referral in the recipient organisation's inbox,
-- recorded in the recipient's access log under the inbox item's id (services/inbox): its
-- workers read it because it is addressed to their organisation, not because a case is
-- assigned to them. The sender's log holds the release itself.
ALTER TABLE haven.access_records DROP CONSTRAINT access_records_basis_check;
ALTER TABLE haven.access_records
    ADD CONSTRAINT access_records_basis_check CHECK (basis IN
        ('assignment', 'team', 'break-glass', 'privacy-review', 'disclosure', 'system', 'inbox'));
ALTER TABLE haven.access_records
    ADD COLUMN event_version integer CHECK (event_version >= 1),
    ADD COLUMN purpose       text    CHECK (purpose ~ '^[a-z][a-z0-9_.-]{0,63}$'),
    ADD CONSTRAINT access_records_disclosure_check CHECK (
        (basis = 'disclosure') = (event_version IS NOT NULL)),
    ADD CONSTRAINT access_records_system_check CHECK (
        (basis = 'system') = (purpose IS NOT NULL)
        AND (basis <> 'system' OR actor_id = 'system'));

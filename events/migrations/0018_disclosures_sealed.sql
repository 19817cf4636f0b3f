-- A disclosure's record names the case event that released the data (`event_version`), not
-- the recipient, categories or consent in plain: the recipient of a referral outside Haven is
-- whatever the worker typed, which may say something about the survivor. The event holds them
-- sealed under the case's data key; the case's access log opens them (and crypto-shredding
-- the case makes them unreadable with the rest). Replaces the plain columns of 0016.
ALTER TABLE haven.access_records DROP CONSTRAINT access_records_disclosure_check;
ALTER TABLE haven.access_records
    DROP COLUMN recipient,
    DROP COLUMN categories,
    DROP COLUMN consent_id,
    ADD COLUMN event_version integer CHECK (event_version >= 1),
    ADD CONSTRAINT access_records_disclosure_check CHECK (
        (basis = 'disclosure') = (event_version IS NOT NULL));

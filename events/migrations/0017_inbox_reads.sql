-- A read of a referral in the recipient organisation's inbox (basis 'inbox'): recorded in the
-- recipient's access log under the inbox item's id (services/inbox). The item holds what the
-- survivor's consent released to that organisation; its workers read it because it is
-- addressed to their organisation, not because a case is assigned to them. The sender's log
-- holds the release itself (basis 'disclosure', migration 0016).
ALTER TABLE haven.access_records DROP CONSTRAINT access_records_basis_check;
ALTER TABLE haven.access_records
    ADD CONSTRAINT access_records_basis_check CHECK (basis IN
        ('assignment', 'team', 'break-glass', 'privacy-review', 'disclosure', 'system', 'inbox'));

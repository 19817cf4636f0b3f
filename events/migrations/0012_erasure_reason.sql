-- The ground of an erasure, on the erasure's own access record (part 'erasure', written in the
-- transaction that shreds the case's key: services/commands/case_privacy.py). A code from a
-- fixed list (`ERASURE_GROUNDS` there), never free text: the record outlives the case's data
-- key, so it must say nothing about the survivor. NULL on every other record, and on an
-- erasure through `DELETE /v1/cases/{id}`, which names no ground. The table stays append-only.
ALTER TABLE haven.access_records
    ADD COLUMN reason text
    CHECK (reason IS NULL OR (part = 'erasure' AND reason ~ '^[a-z][a-z0-9-]{0,39}$'));

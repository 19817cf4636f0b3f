-- The transaction that last moved each stream head (xid8, as haven.events.transaction_id).
-- Appends that several callers share in one transaction (events/committer.py) are not all
-- their transaction's first write, so they cannot rely on `haven.enter_append`'s first-write
-- rule to keep a stream's versions in log order. They move a head only when its last writer's
-- transaction id is at or below their own, which keeps every stream's events in (transaction
-- id, position) order. A constant default: adding the column rewrites nothing; heads written
-- before it read as written by transaction 0, below every live one.
ALTER TABLE haven.streams ADD COLUMN head_xid xid8 NOT NULL DEFAULT '0';

-- Who spent the DP privacy budget (services/reporting/dp.py): every fresh DP release charges
-- the organisation and role that asked for it, against a budget per (organisation, role)
-- (HAVEN_DP_REQUESTER_BUDGET), and is recorded here with the requester. Append-only: the
-- audit of who spent what. A cached release (the same one again) charges nothing.
CREATE TABLE dp.requester_spends (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organisation text        NOT NULL,
    role         text        NOT NULL,
    actor_id     text        NOT NULL,
    release_id   bigint      NOT NULL REFERENCES dp.releases (id),
    epsilon      numeric     NOT NULL CHECK (epsilon > 0),
    spent_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX requester_spends_by_requester ON dp.requester_spends (organisation, role);
CREATE TRIGGER requester_spends_append_only BEFORE UPDATE OR DELETE ON dp.requester_spends
    FOR EACH ROW EXECUTE FUNCTION haven.forbid_change();
-- The reporting role reads it (migration 0010, `dp.grant_reporting_access`).

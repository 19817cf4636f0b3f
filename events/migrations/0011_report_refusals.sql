-- Why a federal release was refused, for the privacy officer only (services/reporting/refusals.py).
-- The requester is told "refused by the disclosure policy" and the reference, nothing more: the
-- reason (a table, a rule) says something about the data. Written by the application after the
-- reporting transaction has rolled back; read through `GET /v1/reports/refusals` (privacy
-- officer of the requesting organisation). Append-only.
CREATE TABLE reporting_ledger.refusals (
    reference              uuid        PRIMARY KEY,
    period                 text        NOT NULL,
    scope                  text        NOT NULL,
    mode                   text        NOT NULL CHECK (mode IN ('suppression', 'differential-privacy')),
    requester_organisation text        NOT NULL,
    requester_role         text        NOT NULL,
    actor_id               text        NOT NULL,
    reason                 text        NOT NULL,
    refused_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refusals_by_requester ON reporting_ledger.refusals (requester_organisation, refused_at);
CREATE TRIGGER refusals_append_only BEFORE UPDATE OR DELETE ON reporting_ledger.refusals
    FOR EACH ROW EXECUTE FUNCTION haven.forbid_change();
REVOKE ALL ON reporting_ledger.refusals FROM PUBLIC;
DO $grant$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'haven_app') THEN
        GRANT SELECT, INSERT ON reporting_ledger.refusals TO haven_app;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'haven_reporting') THEN
        REVOKE ALL ON reporting_ledger.refusals FROM haven_reporting;  -- the reporting role never reads reasons
    END IF;
END
$grant$;

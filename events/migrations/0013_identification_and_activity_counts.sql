-- The federal release's screening funnel and activity measures (docs/federal-reporting.md), read
-- by the reporting role as aggregates only. The rows they count live in read models the role
-- cannot read (views.screenings, views.activities, views.reporting_subjects): each function
-- runs as its owner (SECURITY DEFINER), runs one fixed aggregate query and returns counts per
-- organisation x quarter x codes, never a row, a stream id or a subject. The functions live in
-- reporting_ledger, which no rebuild drops. Before the read models exist they return no rows.

-- Screenings of the quarters, per organisation x quarter x result x outcome. The outcome is the
-- screening's case in the quarter screened in: not_client (standing alone, or its case not
-- served in that quarter), withheld (a client without consent to statistics), client (served,
-- no service in the quarter), client_served (served and given at least one service).
CREATE FUNCTION reporting_ledger.identification_counts(p_quarters text[])
RETURNS TABLE (organisation text, quarter text, result text, outcome text, screenings bigint)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF to_regclass('views.screenings') IS NULL OR to_regclass('views.reporting_subjects') IS NULL
       OR to_regclass('reporting.federal_inputs') IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE $query$
        WITH s AS (
            SELECT tenant_id, to_char(screened_month, 'YYYY"Q"Q') AS quarter, result, linked_case
              FROM views.screenings)
        SELECT s.tenant_id, s.quarter, s.result,
               CASE WHEN f.subject IS NULL THEN 'not_client'
                    WHEN NOT f.statistics_consent THEN 'withheld'
                    WHEN EXISTS (SELECT FROM unnest(f.services) AS given WHERE given > 0)
                        THEN 'client_served'
                    ELSE 'client' END,
               count(*)
          FROM s
          LEFT JOIN views.reporting_subjects m
                 ON m.tenant_id = s.tenant_id AND m.case_id = s.linked_case
          LEFT JOIN reporting.federal_inputs f
                 ON f.subject = m.subject AND f.quarter = s.quarter
         WHERE s.quarter = ANY ($1)
         GROUP BY 1, 2, 3, 4$query$
    USING p_quarters;
END;
$$;

-- Activities of the quarters, per organisation x quarter x kind (sector NULL: each activity
-- once) and per organisation x quarter x kind x audience sector (an activity once in each
-- sector it reached, with that sector's participants and the activity's hours).
CREATE FUNCTION reporting_ledger.activity_counts(p_quarters text[])
RETURNS TABLE (organisation text, quarter text, kind text, sector text, activities bigint,
               participants bigint, hours numeric)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF to_regclass('views.activities') IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE $query$
        WITH a AS (
            SELECT tenant_id, to_char(held_on, 'YYYY"Q"Q') AS quarter, kind, hours, participants,
                   sectors, sector_participants
              FROM views.activities)
        SELECT tenant_id, quarter, kind, NULL::text, count(*), sum(participants)::bigint,
               sum(hours)
          FROM a WHERE quarter = ANY ($1) GROUP BY 1, 2, 3
        UNION ALL
        SELECT a.tenant_id, a.quarter, a.kind, s.sector, count(*), sum(s.participants)::bigint,
               sum(a.hours)
          FROM a, unnest(a.sectors, a.sector_participants) AS s(sector, participants)
         WHERE a.quarter = ANY ($1) GROUP BY 1, 2, 3, 4$query$
    USING p_quarters;
END;
$$;

REVOKE ALL ON FUNCTION reporting_ledger.identification_counts(text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION reporting_ledger.activity_counts(text[]) FROM PUBLIC;

-- The grants of migration 0004, and EXECUTE on the two counting functions: whoever (re)applies
-- the reporting role's grants gives it these too.
CREATE OR REPLACE FUNCTION reporting_ledger.grant_reporting_access() RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'haven_reporting') THEN
        RAISE NOTICE 'role haven_reporting does not exist: reporting grants skipped';
        RETURN;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO haven_reporting', current_database());
    GRANT USAGE ON SCHEMA reporting, reporting_ledger TO haven_reporting;
    GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO haven_reporting;
    -- tables and views a projection rebuild creates later (by the role running this)
    ALTER DEFAULT PRIVILEGES IN SCHEMA reporting GRANT SELECT ON TABLES TO haven_reporting;
    GRANT SELECT, INSERT ON reporting_ledger.releases, reporting_ledger.publications TO haven_reporting;
    GRANT EXECUTE ON FUNCTION reporting_ledger.identification_counts(text[]),
                              reporting_ledger.activity_counts(text[]) TO haven_reporting;
    REVOKE ALL ON SCHEMA haven, views FROM haven_reporting;
    REVOKE ALL ON ALL TABLES IN SCHEMA haven FROM haven_reporting;
    REVOKE ALL ON ALL TABLES IN SCHEMA views FROM haven_reporting;
END;
$$;
SELECT reporting_ledger.grant_reporting_access();

DO $grant$
BEGIN
    -- the owner reads the read models the application's role builds
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'haven_app') AND current_user <> 'haven_app' THEN
        BEGIN
            EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE haven_app IN SCHEMA views, reporting '
                           'GRANT SELECT ON TABLES TO %I', current_user);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'the owner cannot read the read models of haven_app: grant it SELECT '
                         'on views.screenings, views.activities, views.reporting_subjects and '
                         'reporting.federal_inputs by hand';
        END;
    END IF;
END
$grant$;

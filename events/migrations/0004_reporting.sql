-- Federal reporting: the ledger of everything ever released, and the reporting role.
--
-- reporting_ledger holds released numbers and the definitions of their cells only (what each
-- published number is a sum of, in codebook codes), never a true count that was not
-- published, never a subject, id, hash of an id, free text or a date finer than the quarter.
-- Both tables are append-only: a revision is a new release, never an update.
CREATE SCHEMA reporting_ledger;

CREATE FUNCTION reporting_ledger.forbid_change() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'HV010';
END;
$$;

CREATE TABLE reporting_ledger.releases (
    release_no       bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- the reporting quarter (2026Q3); year-to-date tables run from the start of its fiscal year
    period           text    NOT NULL CHECK (period ~ '^[0-9]{4}Q[1-4]$'),
    -- 'all' (roll-up across organisations) or one organisation id
    scope            text    NOT NULL CHECK (scope <> ''),
    -- 0 for the original release, then 1, 2, ... for audited revisions after late data
    revision         integer NOT NULL CHECK (revision >= 0),
    codebook_version text    NOT NULL,
    -- exactly what was released: the JSON document (tables, cells, certificate)
    document         jsonb   NOT NULL,
    -- SHA-256 of every published number and its meaning, after this release
    ledger_hash      text    NOT NULL,
    UNIQUE (period, scope, revision)
);

CREATE TABLE reporting_ledger.publications (
    release_no  bigint   NOT NULL REFERENCES reporting_ledger.releases,
    -- the codebook family (one universe of atoms per family and fiscal year)
    family      text     NOT NULL,
    fiscal_year smallint NOT NULL,
    -- the universe's dimensions (codes), the release's tables and every published number with
    -- the code sets it sums over (services.reporting.ledger)
    definition  jsonb    NOT NULL,
    PRIMARY KEY (release_no, family, fiscal_year)
);
CREATE INDEX publications_by_family ON reporting_ledger.publications (family, fiscal_year, release_no);

CREATE TRIGGER releases_append_only BEFORE UPDATE OR DELETE ON reporting_ledger.releases
    FOR EACH ROW EXECUTE FUNCTION reporting_ledger.forbid_change();
CREATE TRIGGER publications_append_only BEFORE UPDATE OR DELETE ON reporting_ledger.publications
    FOR EACH ROW EXECUTE FUNCTION reporting_ledger.forbid_change();

-- The reporting role: SELECT on the reporting schema (tables and views created later by
-- projection rebuilds included, through default privileges), SELECT and INSERT on the
-- ledger; nothing on haven.* (events, streams, keys), nothing on views.* (case views,
-- caseload, reporting_subjects). `grant_reporting_access()` (re)applies the grants, e.g.
-- after the reporting schema was dropped and recreated; it is idempotent.
CREATE FUNCTION reporting_ledger.grant_reporting_access() RETURNS void
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
    REVOKE ALL ON SCHEMA haven, views FROM haven_reporting;
    REVOKE ALL ON ALL TABLES IN SCHEMA haven FROM haven_reporting;
    REVOKE ALL ON ALL TABLES IN SCHEMA views FROM haven_reporting;
END;
$$;

DO $role$
DECLARE
    may_create boolean;
BEGIN
    SELECT rolsuper OR rolcreaterole INTO may_create FROM pg_roles WHERE rolname = current_user;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'haven_reporting') THEN
        IF may_create THEN
            -- NOLOGIN: the job reaches it with SET ROLE; an administrator who wants a separate
            -- login runs ALTER ROLE haven_reporting LOGIN PASSWORD '...' and sets
            -- HAVEN_REPORTING_DATABASE_URL (README, "Federal reporting").
            CREATE ROLE haven_reporting NOLOGIN;
        ELSE
            RAISE NOTICE 'haven_reporting: the migrating role lacks CREATEROLE; create it by hand '
                         '(CREATE ROLE haven_reporting NOLOGIN; GRANT haven_reporting TO <app role>), '
                         'then run SELECT reporting_ledger.grant_reporting_access()';
        END IF;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'haven_reporting')
       AND NOT pg_has_role(current_user, 'haven_reporting', 'MEMBER') THEN
        BEGIN
            -- the application's own role may SET ROLE haven_reporting (and nothing more)
            EXECUTE format('GRANT haven_reporting TO %I', current_user);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'haven_reporting: cannot grant membership to %; grant it by hand', current_user;
        END;
    END IF;
END;
$role$;

SELECT reporting_ledger.grant_reporting_access();

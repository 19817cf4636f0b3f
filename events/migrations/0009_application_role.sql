-- Two roles (README, "Database roles"). The *owner* runs the migrations (`haven db upgrade`)
-- and owns every table they create. The *application* logs in as a member of `haven_app` and
-- may append to and read the log and the audit trail, but not UPDATE, DELETE or TRUNCATE
-- them, ALTER them or disable their triggers (only an owner can): whoever takes over the
-- application cannot rewrite history or the read audit. It creates and owns the read models'
-- generation tables (`views`, `reporting`) and may move stream heads, keys and bookkeeping.
-- Idempotent; call `haven.grant_application_access()` again after creating the role by hand.
CREATE FUNCTION haven.grant_application_access() RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'haven_app') THEN
        RAISE NOTICE 'role haven_app does not exist: application grants skipped';
        RETURN;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO haven_app', current_database());
    GRANT USAGE ON SCHEMA haven, reporting_ledger, dp TO haven_app;
    GRANT USAGE, CREATE ON SCHEMA views, reporting TO haven_app;
    GRANT SELECT ON haven.schema_migrations TO haven_app;
    -- the log and the audit trail: append and read, nothing else
    GRANT SELECT, INSERT ON haven.events, haven.access_records, haven.break_glass_grants TO haven_app;
    GRANT USAGE ON SEQUENCE haven.event_position TO haven_app;
    -- stream heads and keys (an append moves the head, an erasure destroys the key), bookkeeping
    GRANT SELECT, INSERT, UPDATE ON haven.streams, haven.projection_checkpoints TO haven_app;
    GRANT SELECT, INSERT, UPDATE, DELETE ON haven.idempotency_keys, haven.projection_quarantine TO haven_app;
    GRANT SELECT, INSERT ON haven.tenant_secrets TO haven_app;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'haven_reporting') THEN
        GRANT haven_reporting TO haven_app;  -- federal reporting runs as it (SET LOCAL ROLE)
        BEGIN  -- reporting tables the application creates are readable by the reporting role
            ALTER DEFAULT PRIVILEGES FOR ROLE haven_app IN SCHEMA reporting GRANT SELECT ON TABLES TO haven_reporting;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'haven_app: grant default privileges by hand (as a member of haven_app)';
        END;
    END IF;
END;
$$;

DO $role$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'haven_app') THEN
        IF (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
            CREATE ROLE haven_app NOLOGIN;
        ELSE
            RAISE NOTICE 'haven_app: the migrating role lacks CREATEROLE; create it by hand '
                         '(CREATE ROLE haven_app NOLOGIN; GRANT haven_app TO <application login>), '
                         'then run SELECT haven.grant_application_access()';
        END IF;
    END IF;
END
$role$;

SELECT haven.grant_application_access();

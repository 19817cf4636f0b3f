-- The `intake_origins` read model is gone: the served-by-another-agency flag reaches the
-- roll-up through reporting.federal_inputs (docs/federal-reporting.md). Its view, every
-- generation of its table (each held case ids) and its bookkeeping rows go with it.
DROP VIEW IF EXISTS views.intake_origins;
DO $$
DECLARE
    generation record;
BEGIN
    FOR generation IN
        SELECT format('%I.%I', schemaname, tablename) AS name
          FROM pg_tables
         WHERE schemaname = 'views' AND tablename ~ '^intake_origins_g[0-9]+$'
    LOOP
        EXECUTE 'DROP TABLE IF EXISTS ' || generation.name;
    END LOOP;
END
$$;
DELETE FROM haven.projection_quarantine WHERE projection = 'intake_origins';
DELETE FROM haven.projection_checkpoints WHERE name = 'intake_origins';

-- The federal reporting job logs in as haven_reporting itself (services/reporting/job.py), so
-- nothing it runs can RESET ROLE back to the application. It reads what it reports from and
-- writes the disclosure ledger; the DP budget ledger it only reads: a release is recorded and
-- charged by `dp.record_release`, which runs as the owner (SECURITY DEFINER) and can only
-- add a release and charge positive epsilon, never lower a balance or rewrite a spend.
DO $role$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'haven_reporting') THEN
        BEGIN
            ALTER ROLE haven_reporting LOGIN;  -- its password, if the server asks one: ALTER ROLE ... PASSWORD
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'haven_reporting: run ALTER ROLE haven_reporting LOGIN by hand';
        END;
    END IF;
END
$role$;

CREATE FUNCTION dp.record_release(p_release_key text, p_fingerprint bytea, p_period text,
                                  p_codebook_version text, p_epsilon numeric, p_output json,
                                  p_charged uuid[], p_organisation text, p_role text, p_actor text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_release bigint;
BEGIN
    IF p_epsilon IS NULL OR p_epsilon <= 0 THEN
        RAISE EXCEPTION 'epsilon must be positive' USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO dp.releases (release_key, fingerprint, period, codebook_version, epsilon, output)
    VALUES (p_release_key, p_fingerprint, p_period, p_codebook_version, p_epsilon, p_output)
    RETURNING id INTO v_release;
    IF p_organisation IS NOT NULL THEN
        INSERT INTO dp.requester_spends (organisation, role, actor_id, release_id, epsilon)
        VALUES (p_organisation, p_role, p_actor, v_release, p_epsilon);
    END IF;
    INSERT INTO dp.spends (subject, release_id, epsilon)
    SELECT s, v_release, p_epsilon FROM unnest(p_charged) AS s;
    INSERT INTO dp.balances (subject, spent)
    SELECT s, p_epsilon FROM unnest(p_charged) AS s
    ON CONFLICT (subject) DO UPDATE SET spent = dp.balances.spent + EXCLUDED.spent;
    RETURN v_release;
END;
$$;
REVOKE ALL ON FUNCTION dp.record_release(text, bytea, text, text, numeric, json, uuid[], text, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION dp.grant_reporting_access() RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'haven_reporting') THEN
        RAISE NOTICE 'role haven_reporting does not exist: dp grants skipped';
        RETURN;
    END IF;
    GRANT USAGE ON SCHEMA dp TO haven_reporting;
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON dp.releases, dp.spends, dp.balances, dp.requester_spends
        FROM haven_reporting;
    GRANT SELECT ON dp.releases, dp.spends, dp.balances, dp.requester_spends TO haven_reporting;
    GRANT EXECUTE ON FUNCTION dp.record_release(text, bytea, text, text, numeric, json, uuid[], text, text, text)
        TO haven_reporting;
END;
$$;

SELECT dp.grant_reporting_access();

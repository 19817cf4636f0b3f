-- The federal reporting job logs in as haven_reporting itself (services/reporting/job.py), so
-- nothing it runs can RESET ROLE back to the application. It reads what it reports from and
-- writes the disclosure ledger; the DP budget ledger it only reads: a release is recorded and
-- charged by `dp.record_release`, which runs as the owner (SECURITY DEFINER), can only add a
-- release and charge positive epsilon (never lower a balance or rewrite a spend), and refuses
-- a release the disclosure policy does not allow, whoever calls it.
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

-- The disclosure policy of DP releases (domain/reporting/policy.py): one row, changed only by
-- the owner (`haven report policy set`, which also records a `DisclosurePolicySet` event),
-- read by everyone, and enforced by `dp.record_release` below, so that no caller's argument —
-- over HTTP or from a shell — can exceed it. Every change is kept in dp.policy_history.
CREATE TABLE dp.policy (
    id                      boolean     PRIMARY KEY DEFAULT true CHECK (id),
    lifetime_epsilon        numeric     NOT NULL CHECK (lifetime_epsilon > 0),
    max_epsilon_per_release numeric     NOT NULL CHECK (max_epsilon_per_release > 0),
    requester_budget        numeric     NOT NULL CHECK (requester_budget > 0),
    noise_floor             numeric     NOT NULL CHECK (noise_floor >= 0),
    set_by                  text        NOT NULL,
    set_at                  timestamptz NOT NULL DEFAULT now(),
    CHECK (max_epsilon_per_release <= lifetime_epsilon AND max_epsilon_per_release <= requester_budget)
);
INSERT INTO dp.policy (lifetime_epsilon, max_epsilon_per_release, requester_budget, noise_floor, set_by)
VALUES (4, 1, 4, 1, 'default');

CREATE TABLE dp.policy_history (LIKE dp.policy);  -- the columns alone: one row per change
CREATE FUNCTION dp.keep_policy_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO dp.policy_history SELECT NEW.*;
    RETURN NEW;
END;
$$;
CREATE TRIGGER policy_history AFTER INSERT OR UPDATE ON dp.policy FOR EACH ROW EXECUTE FUNCTION dp.keep_policy_history();
INSERT INTO dp.policy_history SELECT * FROM dp.policy;
CREATE TRIGGER policy_history_append_only BEFORE UPDATE OR DELETE ON dp.policy_history
    FOR EACH ROW EXECUTE FUNCTION haven.forbid_change();
CREATE TRIGGER policy_kept BEFORE DELETE ON dp.policy FOR EACH ROW EXECUTE FUNCTION haven.forbid_change();

CREATE FUNCTION dp.record_release(p_release_key text, p_fingerprint bytea, p_period text,
                                  p_codebook_version text, p_epsilon numeric, p_output json,
                                  p_charged uuid[], p_organisation text, p_role text, p_actor text,
                                  p_scale double precision)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_policy dp.policy;
    v_release bigint;
BEGIN
    SELECT * INTO STRICT v_policy FROM dp.policy;
    IF p_epsilon IS NULL OR p_epsilon <= 0 THEN
        RAISE EXCEPTION 'epsilon must be positive' USING ERRCODE = 'check_violation';
    END IF;
    IF p_epsilon > v_policy.max_epsilon_per_release THEN
        RAISE EXCEPTION 'the disclosure policy caps epsilon per release' USING ERRCODE = 'HV020';
    END IF;
    IF p_scale IS NULL OR p_scale < v_policy.noise_floor THEN
        RAISE EXCEPTION 'the disclosure policy sets a noise floor' USING ERRCODE = 'HV020';
    END IF;
    IF EXISTS (SELECT FROM dp.balances WHERE subject = ANY (p_charged) AND spent + p_epsilon > v_policy.lifetime_epsilon)
    THEN
        RAISE EXCEPTION 'the disclosure policy caps each client''s lifetime epsilon' USING ERRCODE = 'HV020';
    END IF;
    IF p_organisation IS NOT NULL AND (
        SELECT COALESCE(sum(epsilon), 0) FROM dp.requester_spends
         WHERE organisation = p_organisation AND role = p_role) + p_epsilon > v_policy.requester_budget THEN
        RAISE EXCEPTION 'the disclosure policy caps each requester''s epsilon' USING ERRCODE = 'HV020';
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
REVOKE ALL ON FUNCTION dp.record_release(text, bytea, text, text, numeric, json, uuid[], text, text, text,
                                         double precision) FROM PUBLIC;

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
    GRANT SELECT ON dp.releases, dp.spends, dp.balances, dp.requester_spends, dp.policy TO haven_reporting;
    GRANT EXECUTE ON FUNCTION dp.record_release(text, bytea, text, text, numeric, json, uuid[], text, text, text,
                                                double precision) TO haven_reporting;
END;
$$;
SELECT dp.grant_reporting_access();

DO $grant$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'haven_app') THEN
        GRANT SELECT ON dp.policy, dp.policy_history TO haven_app;  -- the owner alone changes it
    END IF;
END
$grant$;

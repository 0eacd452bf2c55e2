-- STAC Hub: privileges of the application role. Run as hub_owner after EVERY
-- Alembic migration (it is idempotent and runs in one transaction), e.g.
--
--   psql -X -v ON_ERROR_STOP=1 -d "$OWNER_DATABASE_URL" -f deploy/postgres/grants.sql
--
-- Variables (psql -v name=value):
--   schema   schema that holds the hub's tables (default: public)
--
-- What hub_app gets:
--   * SELECT, INSERT, UPDATE, DELETE on every table in the schema, except
--   * the append-only audit tables (audit_events, audit_subjects, audit_leaves, audit_nodes,
--     audit_checkpoints, audit_count_batches, audit_counts, audit_seq_gaps, dpo_erasures):
--     SELECT and INSERT only, so the application role can never rewrite or remove the
--     audit log (database triggers refuse UPDATE, DELETE and TRUNCATE there as well, for
--     every role);
--   * alembic_version: SELECT only (migrations run as hub_owner);
--   * USAGE on every sequence (nextval for identity/serial columns);
--   * never TRUNCATE, REFERENCES or TRIGGER, never CREATE on the schema.
-- Default privileges give tables and sequences that hub_owner creates later the
-- same SELECT/INSERT/UPDATE/DELETE and USAGE, so a forgotten run does not break
-- the hub. They cannot know that a new table is append-only: a migration that
-- adds an audit table must add it to the list below, and this script must run.

\if :{?schema}
\else
  \set schema public
\endif
SET stac_hub.schema = :'schema';  -- read by the DO block below

BEGIN;

REVOKE CREATE ON SCHEMA :"schema" FROM PUBLIC, hub_app;
GRANT USAGE ON SCHEMA :"schema" TO hub_app;

-- Start from nothing so the result does not depend on earlier grants.
REVOKE ALL ON ALL TABLES IN SCHEMA :"schema" FROM PUBLIC, hub_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA :"schema" FROM PUBLIC, hub_app;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA :"schema" TO hub_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA :"schema" TO hub_app;

DO $grants$
DECLARE
    schema_name text := current_setting('stac_hub.schema');
    append_only text[] := ARRAY['audit_events', 'audit_subjects', 'audit_leaves', 'audit_nodes', 'audit_checkpoints', 'dpo_erasures', 'audit_count_batches', 'audit_counts', 'audit_seq_gaps'];
    read_only   text[] := ARRAY['alembic_version'];
    t text;
BEGIN
    FOREACH t IN ARRAY append_only || read_only LOOP
        IF to_regclass(format('%I.%I', schema_name, t)) IS NOT NULL THEN
            EXECUTE format('REVOKE ALL ON TABLE %I.%I FROM hub_app', schema_name, t);
            EXECUTE format('GRANT SELECT ON TABLE %I.%I TO hub_app', schema_name, t);
            IF t = ANY (append_only) THEN
                EXECUTE format('GRANT INSERT ON TABLE %I.%I TO hub_app', schema_name, t);
            END IF;
        END IF;
    END LOOP;
END
$grants$;

ALTER DEFAULT PRIVILEGES FOR ROLE hub_owner IN SCHEMA :"schema"
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO hub_app;
ALTER DEFAULT PRIVILEGES FOR ROLE hub_owner IN SCHEMA :"schema"
    GRANT USAGE ON SEQUENCES TO hub_app;

COMMIT;

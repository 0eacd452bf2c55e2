-- STAC Hub: PostgreSQL roles, database and schema. Run once per cluster (and
-- again whenever you like: it is idempotent) as a superuser, e.g.
--
--   psql -X -v ON_ERROR_STOP=1 -d postgres \
--        -v dbname=stac_hub -v owner_password="$OWNER_PW" -v app_password="$APP_PW" \
--        -f deploy/postgres/roles.sql
--
-- Variables (psql -v name=value):
--   dbname          database to create/configure                  (default: stac_hub)
--   schema          schema that holds the hub's tables            (default: public)
--   owner_password  password for hub_owner; omit to leave it unchanged
--   app_password    password for hub_app;   omit to leave it unchanged
--                   (omitting both suits peer or certificate authentication)
--
-- Roles:
--   hub_owner  owns the database and the schema; runs Alembic migrations and then
--              deploy/postgres/grants.sql. Only used by operators/deployments.
--   hub_app    what gunicorn and the `hub` CLI connect as (DATABASE_URL): LOGIN,
--              owns nothing, cannot create objects; gets data privileges from
--              grants.sql (append-only on the audit tables).
-- Neither role is a superuser or may create databases or roles, or bypass RLS.
-- Passwords are sent to the server as literals and stored as SCRAM hashes
-- (password_encryption = scram-sha-256, the default since PostgreSQL 14); do not
-- run this with log_statement = 'all' or 'ddl' if the server log is kept.

\if :{?dbname}
\else
  \set dbname stac_hub
\endif
\if :{?schema}
\else
  \set schema public
\endif

-- Roles (CREATE ROLE has no IF NOT EXISTS: generate it only when missing).
SELECT 'CREATE ROLE hub_owner'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hub_owner') \gexec
SELECT 'CREATE ROLE hub_app'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hub_app') \gexec

ALTER ROLE hub_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT;
ALTER ROLE hub_app   LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT;

\if :{?owner_password}
  ALTER ROLE hub_owner PASSWORD :'owner_password';
\endif
\if :{?app_password}
  ALTER ROLE hub_app PASSWORD :'app_password';
\endif

-- Database owned by hub_owner (CREATE DATABASE cannot run in a DO block).
SELECT format('CREATE DATABASE %I OWNER hub_owner ENCODING %L TEMPLATE template0', :'dbname', 'UTF8')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'dbname') \gexec
SELECT format('ALTER DATABASE %I OWNER TO hub_owner', :'dbname') \gexec

-- Only the hub's roles may connect; nobody may create temporary tables, and only
-- the owner may create schemas.
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'dbname') \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO hub_owner, hub_app', :'dbname') \gexec

\connect :"dbname"

-- The schema belongs to hub_owner; hub_app may use it but not create in it.
CREATE SCHEMA IF NOT EXISTS :"schema" AUTHORIZATION hub_owner;
ALTER SCHEMA :"schema" OWNER TO hub_owner;
REVOKE ALL ON SCHEMA :"schema" FROM PUBLIC;
GRANT USAGE ON SCHEMA :"schema" TO hub_app;

SELECT format('ALTER ROLE %I IN DATABASE %I SET search_path = %I', r, :'dbname', :'schema')
  FROM unnest(ARRAY['hub_owner', 'hub_app']) AS r \gexec

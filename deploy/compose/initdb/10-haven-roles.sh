#!/bin/sh
# Run once by the postgres image when its cluster is created: the roles Haven's migrations
# grant to (README, "Database roles"). Passwords come from the mounted secrets, never from
# this file.
set -eu
app_password=$(cat /run/secrets/haven-app-password)
reporting_password=$(cat /run/secrets/haven-reporting-password)
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v app_password="$app_password" -v reporting_password="$reporting_password" <<'SQL'
ALTER ROLE CURRENT_USER CREATEROLE;
CREATE ROLE haven_app NOLOGIN;
CREATE ROLE haven LOGIN IN ROLE haven_app PASSWORD :'app_password';
CREATE ROLE haven_reporting LOGIN PASSWORD :'reporting_password';
SQL

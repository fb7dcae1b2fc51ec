#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# ctest fixture "pg": one throwaway PostgreSQL in ${PG_ENV} for the tests
# that run against the PostgreSQL store (unit-pg/*, integration/pg-*);
# each makes databases of its own.  pg-cleanup.sh stops it.
set -u
. "$(dirname "$0")/lib-pg.sh"
: "${PG_ENV:?PG_ENV must name the directory of the fixture}"
if [ -f "$PG_ENV/server.path" ]; then
    pg_stop "$PG_ENV" || true
fi
rm -rf "$PG_ENV"
pg_start "$PG_ENV" || exit 1
echo "PostgreSQL for the tests at $(cat "$PG_ENV/url")"

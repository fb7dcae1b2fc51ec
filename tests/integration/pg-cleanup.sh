#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Stops the fixture "pg" (pg-setup.sh).
set -u
. "$(dirname "$0")/lib-pg.sh"
: "${PG_ENV:?PG_ENV must name the directory of the fixture}"
pg_stop "$PG_ENV" || exit 1

#!/usr/bin/env bash
# monitor's container entrypoint (the Dockerfile's ENTRYPOINT; works on a
# plain host too, tests/test_deploy.py runs it with bash):
#
#   1. when the database is PostgreSQL, wait until it accepts connections:
#      at most MONITOR_DB_WAIT_TRIES attempts, MONITOR_DB_WAIT_INTERVAL
#      seconds apart, each connect bounded by MONITOR_DB_CONNECT_TIMEOUT;
#      errors that waiting cannot fix (wrong password, no such database)
#      stop at the first attempt;
#   2. migrate the schema: `monitor db upgrade` (MONITOR_MIGRATE=0 skips it);
#   3. exec `monitor "$@"` (default: `run`), so monitor itself receives
#      docker's SIGTERM and shuts down gracefully.
#
# `check-config`, `--help` and `--version` skip steps 1 and 2: they must work
# without a database.  `db ...` commands skip step 2 (they are step 2).
# Leading global options (--config PATH, -v) are used for every step.
#
# `monitor` and `python3` are the ones first on PATH (the image's Python).
# Exit codes: monitor's own (0 ok, 1 runtime failure, 2 usage or config
# error); 1 when PostgreSQL stays unreachable.
set -euo pipefail

# 30 x 2 s: a minute for PostgreSQL's first start (its official image runs
# initdb, then restarts the server).  Under compose the postgres healthcheck
# has usually passed already; the wait matters for `docker run` and restarts.
export MONITOR_DB_WAIT_TRIES="${MONITOR_DB_WAIT_TRIES:-30}"
export MONITOR_DB_WAIT_INTERVAL="${MONITOR_DB_WAIT_INTERVAL:-2}"
export MONITOR_DB_CONNECT_TIMEOUT="${MONITOR_DB_CONNECT_TIMEOUT:-3}"

if [ "$#" -eq 0 ]; then
    set -- run
fi

# Split the leading global options from the command.
global=()
args=("$@")
i=0
while [ "$i" -lt "${#args[@]}" ]; do
    case "${args[$i]}" in
        --config)
            global+=("${args[$i]}")
            i=$((i + 1))
            if [ "$i" -lt "${#args[@]}" ]; then
                global+=("${args[$i]}")
                export MONITOR_CONFIG="${args[$i]}"
            fi
            ;;
        --config=*)
            global+=("${args[$i]}")
            export MONITOR_CONFIG="${args[$i]#--config=}"
            ;;
        -v | --verbose)
            global+=("${args[$i]}")
            ;;
        *)
            break
            ;;
    esac
    i=$((i + 1))
done
command="${args[$i]:-}"

case "$command" in
    check-config | --help | -h | --version | "")
        exec monitor "$@"
        ;;
esac

wait_for_postgres() {
    python3 - <<'PY'
import os
import sys
import time

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from monitor.config import load_config

try:
    url = make_url(load_config().database_url)
except Exception:  # ConfigError, or sqlalchemy's ArgumentError for a bad URL
    # a bad config or URL: the monitor command that follows reports it
    # with its own message and exit code
    sys.exit(0)
if url.get_backend_name() != "postgresql":
    sys.exit(0)
if url.drivername == "postgresql":
    url = url.set(drivername="postgresql+psycopg")

tries = max(1, int(os.environ["MONITOR_DB_WAIT_TRIES"]))
interval = float(os.environ["MONITOR_DB_WAIT_INTERVAL"])
# libpq treats connect_timeout below 2 as 2
timeout = max(2, int(float(os.environ["MONITOR_DB_CONNECT_TIMEOUT"])))
where = f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"
# What waiting can fix: no answer at all (refused, timeout, DNS not yet
# there), or an answer saying the server is not ready.  libpq reports no
# SQLSTATE for a refused login, so the server's FATAL text is read: these are
# PostgreSQL's messages for SQLSTATE 57P03 cannot_connect_now and 53300
# too_many_connections (raised while a client logs in), in the English the
# official image runs with.  Any other FATAL (no such
# database, password authentication failed) stops at once.
NOT_READY = (
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
    "too many clients",
    "remaining connection slots are reserved",
)


def permanent(message: str, sqlstate: str | None) -> bool:
    if sqlstate:
        return not sqlstate.startswith(("57", "53"))
    return "FATAL:" in message and not any(t in message for t in NOT_READY)


engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": timeout})
start = time.monotonic()
last = "no attempt made"
for attempt in range(1, tries + 1):
    try:
        with engine.connect():
            pass
    except Exception as e:  # sqlalchemy.exc.OperationalError and friends
        orig = getattr(e, "orig", None) or e
        last = " ".join(str(orig).split())
        if permanent(last, getattr(orig, "sqlstate", None)):
            print(
                f"entrypoint: PostgreSQL at {where} is up but refused the connection; waiting will not fix "
                f"this: check the user, password and database name in MONITOR_DATABASE_URL. Error: {last}",
                file=sys.stderr,
            )
            sys.exit(1)
        if attempt < tries:
            print(f"entrypoint: waiting for PostgreSQL at {where} (attempt {attempt}/{tries}): {last}", file=sys.stderr)
            time.sleep(interval)
        continue
    print(f"entrypoint: PostgreSQL at {where} is ready (attempt {attempt}/{tries})", file=sys.stderr)
    sys.exit(0)
print(
    f"entrypoint: giving up after {tries} attempts in {time.monotonic() - start:.1f}s: PostgreSQL at {where} "
    "is unreachable. Check that the server is running and that MONITOR_DATABASE_URL names the right host "
    f"and port; set MONITOR_DB_WAIT_TRIES to wait longer. Last error: {last}",
    file=sys.stderr,
)
sys.exit(1)
PY
}

wait_for_postgres

case "$command" in
    db) ;;
    *)
        if [ "${MONITOR_MIGRATE:-1}" != "0" ]; then
            monitor "${global[@]}" db upgrade
        fi
        ;;
esac

exec monitor "$@"

#!/usr/bin/env bash
# PostgreSQL and Redis of the fault-injection suite (tests/e2e/fault_test.cc):
# its own instances, with production durability, because the suite crashes and
# restarts them while the rest of the test run keeps using the shared ones.
#
#   infra.sh pg-start DATA PORT     initialise (first time) and start; database parley_fault
#   infra.sh pg-crash DATA          stop as a crash would (pg_ctl -m immediate)
#   infra.sh redis-start DATA PORT  start with its append-only file
#   infra.sh redis-stop DATA PORT   SHUTDOWN (the append-only file is flushed first)
#   infra.sh wipe DATA PORT         stop both and delete their files
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"

cmd=$1 data=$2 port=${3:-}
case $cmd in
  pg-start) start_postgres "$data" "$port" parley_fault ;;
  pg-crash) stop_postgres "$data" immediate ;;
  redis-start) start_redis "$data" "$port" ;;
  redis-stop) stop_redis "$data" "$port" ;;
  wipe)
    stop_redis "$data" "$port"
    if [ -d "$data" ]; then
      stop_postgres "$data" immediate
      rm -rf "$(pg_data_dir "$(abs_dir "$data")")" "$data"
    fi
    ;;
  *) die "unknown command $cmd" ;;
esac

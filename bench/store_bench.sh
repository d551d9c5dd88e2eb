#!/usr/bin/env bash
# The message service's PostgreSQL write path on its own: batches of
# one-to-one messages through MessageStore::SendBatch against the local
# cluster's PostgreSQL (scripts/cluster up). Prints messages/s, commit latency
# per batch (p50/p99) and CPU time per message of the PostgreSQL backend and
# of the bench itself.
#
#   bench/store_bench.sh [batch size] [seconds] [users]
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

BATCH=${1:-50}
SECONDS_TO_RUN=${2:-10}
USERS=${3:-200}
PG_URL=${PARLEY_PG_URL:-postgresql://parley@127.0.0.1:${PARLEY_PG_PORT:-15432}/parley}

"$PARLEY_BUILD_DIR/bench/parley-store-bench" --pg-url "$PG_URL" --batch "$BATCH" \
  --seconds "$SECONDS_TO_RUN" --users "$USERS"

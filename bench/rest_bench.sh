#!/usr/bin/env bash
# REST throughput and latency of im_open_login_svc/account_check (10 accounts
# per call) through the gateway, auth service and PostgreSQL.
#
#   scripts/cluster up             # a running local cluster
#   bench/rest_bench.sh [seconds] [connections] [threads]
#
# Prints requests/s and p50/p99 latency (wrk, from Debian). Uses the cluster's
# settings (PARLEY_HTTP_ADDR, PARLEY_SDKAPPID, PARLEY_ADMIN_ID, the dev key).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

SECONDS_TO_RUN=${1:-10}
CONNECTIONS=${2:-64}
THREADS=${3:-1}
DATA=${PARLEY_DATA_DIR:-$PARLEY_ROOT/.data/cluster}
HTTP_ADDR=${PARLEY_HTTP_ADDR:-127.0.0.1:8080}
SDKAPPID=${PARLEY_SDKAPPID:-1400000000}
ADMIN=${PARLEY_ADMIN_ID:-administrator}
KEY=${PARLEY_SECRET_KEY:-$(cat "$DATA/dev-secret-key" 2>/dev/null || true)}
[ -n "$KEY" ] || die "no secret key: start the cluster with scripts/cluster up or set PARLEY_SECRET_KEY"
command -v wrk >/dev/null || install_deps
export PARLEY_BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"

SIG=$("$PARLEY_BUILD_DIR/tools/admin/parley-admin" usersig --sdkappid "$SDKAPPID" \
  --identifier "$ADMIN" --secret-key "$KEY")
query="sdkappid=$SDKAPPID&identifier=$ADMIN&usersig=$SIG&random=1&contenttype=json"
base="http://$HTTP_ADDR/v4/im_open_login_svc"

# Half the checked accounts exist, as in a real mixed workload.
accounts=$(printf '"bench_user_%d",' 0 1 2 3 4)
curl -fsS -d "{\"Accounts\":[${accounts%,}]}" "$base/multiaccount_import?$query" \
  | grep -q '"ErrorCode":0' || die "could not import the benchmark accounts"

say "account_check x10 accounts: ${SECONDS_TO_RUN}s, $CONNECTIONS connections, $THREADS wrk threads"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_TO_RUN}s" --latency \
  -s "$(dirname "$0")/rest_account_check.lua" "$base/account_check?$query" \
  | grep -E 'requests/s|p50|non-OK|Socket errors'

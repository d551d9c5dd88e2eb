#!/usr/bin/env bash
# One-to-one messaging under load through the running local cluster
# (scripts/cluster up): N users on WebSocket connections send in a ring at a
# target rate. Prints sent/s, delivered/s, end-to-end latency p50/p99/p999,
# lost/duplicated/reordered counts (all must be 0) and gateway memory per idle
# connection.
#
#   bench/message_bench.sh [rate msg/s] [seconds] [users] [idle connections]
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

RATE=${1:-2000}
SECONDS_TO_RUN=${2:-10}
USERS=${3:-200}
IDLE=${4:-1000}
DATA=${PARLEY_DATA_DIR:-$PARLEY_ROOT/.data/cluster}
HTTP_ADDR=${PARLEY_HTTP_ADDR:-127.0.0.1:8080}
KEY=${PARLEY_SECRET_KEY:-$(cat "$DATA/dev-secret-key" 2>/dev/null || true)}
[ -n "$KEY" ] || die "no secret key: start the cluster with scripts/cluster up or set PARLEY_SECRET_KEY"
GATEWAY_PID=$(cat "$DATA/pids/gateway.pid" 2>/dev/null || echo 0)
# Whose CPU time per message to print.
CPU_PIDS=$(bench_cpu_pids "$DATA" gateway message push auth relationship callback)
# Each run uses fresh users, so earlier runs don't count.
PREFIX="bench$(date +%s)"

# Many sockets: raise the descriptor limit for this process and its children.
ulimit -n 65536 2>/dev/null || true
"$PARLEY_BUILD_DIR/bench/parley-loadgen" --host "${HTTP_ADDR%:*}" --port "${HTTP_ADDR##*:}" \
  --sdkappid "${PARLEY_SDKAPPID:-1400000000}" --secret-key "$KEY" --users "$USERS" \
  --rate "$RATE" --seconds "$SECONDS_TO_RUN" --idle "$IDLE" --gateway-pid "$GATEWAY_PID" \
  --cpu "$CPU_PIDS" \
  --prefix "$PREFIX"

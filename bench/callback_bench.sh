#!/usr/bin/env bash
# The cost of callbacks, against the running local cluster (scripts/cluster up):
#  1. one-to-one send latency without callbacks, then with
#     C2C.CallbackBeforeSendMsg enabled (a receiver on loopback answers at
#     once): p50/p99 from bench/message_bench.sh;
#  2. after-callback throughput: N queued C2C.CallbackAfterSendMsg events
#     delivered by parley-callback to the receiver, events/s.
#
#   bench/callback_bench.sh [rate msg/s] [seconds] [users] [after events]
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

RATE=${1:-500}
SECONDS_TO_RUN=${2:-10}
USERS=${3:-100}
EVENTS=${4:-20000}
SINK="$PARLEY_BUILD_DIR/bench/parley-callback-sink"
ARGS=(--sdkappid "${PARLEY_SDKAPPID:-1400000000}" --callback-target 127.0.0.1:7055
      --redis "${PARLEY_REDIS_ADDR:-127.0.0.1:16379}")
BENCH="$(dirname "$0")/message_bench.sh"
export PARLEY_TLS_DIR=${PARLEY_TLS_DIR:-${PARLEY_DATA_DIR:-$PARLEY_ROOT/.data/cluster}/tls}

say "send latency, no callbacks: $RATE msg/s for ${SECONDS_TO_RUN}s"
"$BENCH" "$RATE" "$SECONDS_TO_RUN" "$USERS" 0 | grep -E 'sent/s|latency|lost'

say "send latency, C2C.CallbackBeforeSendMsg enabled"
"$SINK" "${ARGS[@]}" --mode serve --commands C2C.CallbackBeforeSendMsg \
  --seconds $((SECONDS_TO_RUN + 12)) &
sink=$!
sleep 1
"$BENCH" "$RATE" "$SECONDS_TO_RUN" "$USERS" 0 | grep -E 'sent/s|latency|lost'
wait "$sink"

say "after-callback throughput: $EVENTS events"
"$SINK" "${ARGS[@]}" --mode drain --events "$EVENTS" --seconds 120

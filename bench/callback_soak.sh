#!/usr/bin/env bash
# Redis stays bounded under after-callbacks, against the running local
# cluster (scripts/cluster up): pushes N after-callback events (default one
# million) through parley-callback to a live loopback receiver, never more
# than 20,000 undelivered at once, and prints Redis used_memory before, at
# its peak and after (consumed entries are trimmed), with the stream's length.
#
#   bench/callback_soak.sh [events] [max seconds]
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

EVENTS=${1:-1000000}
MAX_SECONDS=${2:-1800}
DATA=${PARLEY_DATA_DIR:-$PARLEY_ROOT/.data/cluster}
export PARLEY_TLS_DIR=${PARLEY_TLS_DIR:-$DATA/tls}

say "soak: $EVENTS after-callbacks through a live receiver"
"$PARLEY_BUILD_DIR/bench/parley-callback-sink" --sdkappid "${PARLEY_SDKAPPID:-1400000000}" \
  --callback-target 127.0.0.1:7055 --redis "${PARLEY_REDIS_ADDR:-127.0.0.1:16379}" \
  --mode drain --events "$EVENTS" --max-backlog 20000 --seconds "$MAX_SECONDS"

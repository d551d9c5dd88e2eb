#!/usr/bin/env bash
# Gateway memory per idle WebSocket connection at scale, through the running
# local cluster (scripts/cluster up).
#
# One process may hold at most `ulimit -Hn` descriptors (20,000 on the
# development machines), so N connections are spread over G fresh gateway
# instances (ports 8091, 8092, ...) with one load-generator process each.
# Every connection logs in as its own user and then stays idle. Prints each
# gateway's RSS after a short warm-up and after all connections, and the total
# RSS growth per connection.
# The users are the same on every run (prefix "idleconn"), so only the first
# run pays for importing their accounts.
#
#   bench/connections_bench.sh [connections] [gateways]
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

TOTAL=${1:-50000}
GATEWAYS=${2:-3}
DATA=${PARLEY_DATA_DIR:-$PARLEY_ROOT/.data/cluster}
export PARLEY_TLS_DIR=${PARLEY_TLS_DIR:-$DATA/tls}  # the extra gateways dial the services
KEY=${PARLEY_SECRET_KEY:-$(cat "$DATA/dev-secret-key" 2>/dev/null || true)}
[ -n "$KEY" ] || die "no secret key: start the cluster with scripts/cluster up or set PARLEY_SECRET_KEY"
PER_GATEWAY=$(((TOTAL + GATEWAYS - 1) / GATEWAYS))
LIMIT=$(ulimit -Hn)
[ "$PER_GATEWAY" -lt $((LIMIT - 200)) ] \
  || die "$PER_GATEWAY connections per gateway exceed the descriptor limit ($LIMIT): use more gateways"
ulimit -n "$LIMIT"

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${PARLEY_BENCH_KEEP:-}" ] && echo "logs kept in $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

for ((g = 0; g < GATEWAYS; g++)); do
  PARLEY_HTTP_ADDR=127.0.0.1:$((8091 + g)) PARLEY_GATEWAY_GRPC_ADDR=127.0.0.1:$((7091 + g)) \
    PARLEY_GATEWAY_ID="bench-gw-$g" PARLEY_LOG_LEVEL=warn PARLEY_DRAIN_MS=0 \
    "$PARLEY_BUILD_DIR/services/gateway/parley-gateway" >"$WORK/gateway-$g.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$((8091 + g))/healthz" 30 || die "gateway $g did not start"
done

say "connecting $TOTAL idle clients to $GATEWAYS gateways"
LOADGENS=()
for ((g = 0; g < GATEWAYS; g++)); do
  count=$((g == GATEWAYS - 1 ? TOTAL - PER_GATEWAY * (GATEWAYS - 1) : PER_GATEWAY))
  "$PARLEY_BUILD_DIR/bench/parley-loadgen" --host 127.0.0.1 --port $((8091 + g)) \
    --sdkappid "${PARLEY_SDKAPPID:-1400000000}" --secret-key "$KEY" --users 0 --rate 0 \
    --seconds 0 --idle "$count" --gateway-pid "${PIDS[$g]}" --prefix "idleconn$g" \
    --login-rate $((600 / GATEWAYS)) \
    >"$WORK/loadgen-$g.out" 2>&1 &
  LOADGENS+=($!)
done
for pid in "${LOADGENS[@]}"; do wait "$pid" || true; done

total_before=0
total_after=0
total_connections=0
for ((g = 0; g < GATEWAYS; g++)); do
  line=$(grep '^gateway RSS' "$WORK/loadgen-$g.out" || true)
  [ -n "$line" ] || { cat "$WORK/loadgen-$g.out" >&2; die "load generator $g failed"; }
  echo "gateway $g: $line"
  grep -E '^only |: (connect|handshake|read|write):' "$WORK/loadgen-$g.out" | sort | uniq -c | sort -rn | head -3 || true
  read -r before after connections < <(sed -E 's/.* ([0-9]+) KB before, ([0-9]+) KB with ([0-9]+) more idle.*/\1 \2 \3/' <<<"$line")
  total_before=$((total_before + before))
  total_after=$((total_after + after))
  total_connections=$((total_connections + connections))
done
awk -v b="$total_before" -v a="$total_after" -v n="$total_connections" 'BEGIN {
  printf "connections: %d  gateway RSS: %d KB before, %d KB after: %.1f KB per idle connection\n",
         n, b, a, (a - b) / n }'

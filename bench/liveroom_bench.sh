#!/usr/bin/env bash
# Live rooms (AVChatRoom) through the running local cluster (scripts/cluster
# up). Members are spread over G fresh gateway instances (ports 8091, ...)
# with one load-generator process each, as bench/connections_bench.sh does
# (one process holds at most `ulimit -Hn` descriptors). Lost and duplicated
# counts are of messages frequency control did not drop; they must be 0.
#
#   bench/liveroom_bench.sh [fanout|sustain|churn|all]
#
#   fanout   one room, 50,000 members online over 3 gateways; 10 messages,
#            one a second: time until every member has each (p50/p99/max)
#   sustain  the same room with 10,000 members, 40 msg/s for 60 s (400,000
#            deliveries/s): delivered/s, latency p50/p99, CPU of the gateways
#   churn    3,000 connections entering and quitting one room in turn for
#            20 s: joins per second, CPU per join (gateways, group, Redis,
#            PostgreSQL)
#
# Sizes: FANOUT_MEMBERS, SUSTAIN_MEMBERS, SUSTAIN_RATE, SUSTAIN_SECONDS,
# CHURN_CONNECTIONS, CHURN_SECONDS, GATEWAYS.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

WHAT=${1:-all}
GATEWAYS=${GATEWAYS:-3}
DATA=${PARLEY_DATA_DIR:-$PARLEY_ROOT/.data/cluster}
export PARLEY_TLS_DIR=${PARLEY_TLS_DIR:-$DATA/tls}
KEY=${PARLEY_SECRET_KEY:-$(cat "$DATA/dev-secret-key" 2>/dev/null || true)}
[ -n "$KEY" ] || die "no secret key: start the cluster with scripts/cluster up or set PARLEY_SECRET_KEY"
ulimit -n "$(ulimit -Hn)"
LOADGEN="$PARLEY_BUILD_DIR/bench/parley-liveroom-loadgen"
COMMON=(--sdkappid "${PARLEY_SDKAPPID:-1400000000}" --secret-key "$KEY"
        --admin "${PARLEY_ADMIN_ID:-administrator}")
RUN=r$(date +%s%N | tail -c 7)

WORK=$(mktemp -d)
GW_PIDS=()
cleanup() {
  for pid in "${GW_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${PARLEY_BENCH_KEEP:-}" ] && echo "logs kept in $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

for ((g = 0; g < GATEWAYS; g++)); do
  PARLEY_HTTP_ADDR=127.0.0.1:$((8091 + g)) PARLEY_GATEWAY_GRPC_ADDR=127.0.0.1:$((7091 + g)) \
    PARLEY_GATEWAY_ID="room-gw-$g-$RUN" PARLEY_LOG_LEVEL=warn PARLEY_DRAIN_MS=0 \
    "$PARLEY_BUILD_DIR/services/gateway/parley-gateway" >"$WORK/gateway-$g.log" 2>&1 &
  GW_PIDS+=($!)
  wait_http "http://127.0.0.1:$((8091 + g))/healthz" 30 || die "gateway $g did not start"
done
CPU="$(for ((g = 0; g < GATEWAYS; g++)); do printf 'gw%d=%d,' "$g" "${GW_PIDS[$g]}"; done)"
CPU+=$(bench_cpu_pids "$DATA" message push group)

new_room() {
  "$LOADGEN" --mode setup --port 8080 --prefix "$RUN$1" "${COMMON[@]}"
}

# Runs one load generator per gateway on `room` with `members` in all; the
# first also sends. Prints the combined figures.
members_run() {
  local name=$1 room=$2 members=$3 messages=$4 rate=$5 wait=$6
  local per=$(((members + GATEWAYS - 1) / GATEWAYS)) pids=() count
  rm -rf "$WORK/ready" && mkdir -p "$WORK/ready"
  for ((g = 0; g < GATEWAYS; g++)); do
    count=$((g == GATEWAYS - 1 ? members - per * (GATEWAYS - 1) : per))
    local extra=()
    [ "$g" -eq 0 ] && extra=(--sender --cpu "$CPU")
    "$LOADGEN" --mode members --port $((8091 + g)) --room "$room" --members "$count" \
      --prefix "$RUN$name$g" --messages "$messages" --rate "$rate" --wait "$wait" \
      --login-rate $((900 / GATEWAYS)) --ready-dir "$WORK/ready" --processes "$GATEWAYS" \
      "${extra[@]}" "${COMMON[@]}" >"$WORK/$name-$g.out" 2>"$WORK/$name-$g.err" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || { tail -5 "$WORK"/$name-*.err >&2; die "a load generator failed"; }; done
  grep -h '^sent\|^cpu' "$WORK/$name-0.out" || true
  python3 - "$members" "$messages" "$WORK"/$name-*.out <<'PY'
import sys
members, messages = int(sys.argv[1]), int(sys.argv[2])
count, worst, hist = {}, {}, {}
got = dup = 0
secs = 0.0
for path in sys.argv[3:]:
    for line in open(path):
        f = line.split()
        if not f:
            continue
        if f[0] == "msg":
            i = int(f[1]); count[i] = count.get(i, 0) + int(f[2]); worst[i] = max(worst.get(i, 0.0), float(f[3]))
        elif f[0] == "deliveries":
            got += int(f[1]); dup += int(f[5]); secs = max(secs, float(f[7]))
        elif f[0] == "hist":
            for kv in f[1:]:
                k, c = kv.split(":"); hist[int(k)] = hist.get(int(k), 0) + int(c)
def pct(values, p):
    return values[min(len(values) - 1, int(p * len(values)))] if values else float("nan")
dropped = sum(1 for i in range(messages) if count.get(i, 0) == 0)  # frequency control
times = sorted(worst[i] for i in range(messages) if count.get(i, 0) == members)
print(f"messages that reached every member: {len(times)} of {messages}; time until every member "
      f"had one, ms: p50 {pct(times, .5):.1f}  p99 {pct(times, .99):.1f}  max {max(times or [0]):.1f}")
total = sum(hist.values())
def hpct(p):
    c = 0
    for k in sorted(hist):
        c += hist[k]
        if c >= p * total:
            return k / 10
    return float("nan")
expected = members * (messages - dropped)
print(f"deliveries: {got} of {expected} over {secs:.1f} s ({got / max(secs, 1e-9):.0f}/s)  "
      f"latency per delivery ms: p50 {hpct(.5):.1f}  p99 {hpct(.99):.1f}")
print(f"lost: {expected - got}  duplicated: {dup}  (messages dropped by frequency control: {dropped})")
PY
}

if [ "$WHAT" = all ] || [ "$WHAT" = fanout ]; then
  members=${FANOUT_MEMBERS:-50000}
  say "fanout: one room, $members members over $GATEWAYS gateways, 10 messages one a second"
  members_run fanout "$(new_room f)" "$members" 10 1 120
  echo
fi
if [ "$WHAT" = all ] || [ "$WHAT" = sustain ]; then
  members=${SUSTAIN_MEMBERS:-10000}
  rate=${SUSTAIN_RATE:-40}
  seconds=${SUSTAIN_SECONDS:-60}
  say "sustain: one room, $members members over $GATEWAYS gateways, $rate msg/s for $seconds s"
  members_run sustain "$(new_room s)" "$members" $((rate * seconds)) "$rate" $((seconds + 60))
  echo
fi
if [ "$WHAT" = all ] || [ "$WHAT" = churn ]; then
  connections=${CHURN_CONNECTIONS:-3000}
  seconds=${CHURN_SECONDS:-20}
  room=$(new_room c)
  say "churn: $connections connections over $GATEWAYS gateways entering and quitting one room"
  pids=()
  for ((g = 0; g < GATEWAYS; g++)); do
    extra=()
    [ "$g" -eq 0 ] && extra=(--cpu "$CPU")
    "$LOADGEN" --mode churn --port $((8091 + g)) --room "$room" \
      --members $((connections / GATEWAYS)) --seconds "$seconds" --prefix "$RUN${g}c" \
      --login-rate $((900 / GATEWAYS)) "${extra[@]}" "${COMMON[@]}" >"$WORK/churn-$g.out" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || true; done
  cat "$WORK"/churn-*.out | grep -v '^cpu' || true
  # CPU per join over all gateways: process 0 printed the processes' CPU
  # share (cores busy); joins/s is the sum over the processes.
  python3 - "$WORK"/churn-*.out <<'PY'
import re, sys
rate = 0.0
share = None
for path in sys.argv[1:]:
    for line in open(path):
        m = re.match(r"joins: \d+ \(([\d.]+)/s\)", line)
        if m:
            rate += float(m.group(1))
        if line.startswith("cpu, cores busy:") and share is None:
            share = dict(kv.split() for kv in re.findall(r"(\S+ [\d.]+)", line.split(":", 1)[1]))
print(f"all gateways: {rate:.0f} joins/s (each with its quit)")
if share and rate:
    parts = "  ".join(f"{k} {float(v) * 1000 / rate:.3f}" for k, v in share.items())
    print(f"cpu ms per join: {parts}  total {sum(float(v) for v in share.values()) * 1000 / rate:.3f}")
PY
fi

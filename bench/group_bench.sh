#!/usr/bin/env bash
# Group messaging through the running local cluster (scripts/cluster up):
# the four figures the README's Benchmarks section names. Each prints
# lost / duplicated / reordered counts (all must be 0). For `groups`,
# stored/s counts the drain after the last send; "over the send window" is
# the rate sustained while sending. To find the ceiling, offer more than
# you need (GROUPS_RATE=2600) and compare stored/s with the rate offered.
#
#   bench/group_bench.sh [fanout|groups|big|catchup|all]
#
#   fanout   a 200-member Work group, every member online, members sending
#            50 msg/s in all (10,000 deliveries/s): deliveries/s, p50/p99
#   groups   1,000 groups of 20 members, each with an online sender, 2,000
#            msg/s in all: group messages stored per second
#   big      a 6,000-member Public group with 1,000 members online: time
#            until every online member has a message, p50/p99
#   catchup  a user in 500 groups, one message in each while away: calls
#            and time to learn what changed, then to fetch it
#
# Sizes and rates can be changed with FANOUT_MEMBERS, FANOUT_RATE,
# GROUP_COUNT, GROUP_MEMBERS, GROUPS_RATE, BIG_MEMBERS, BIG_ONLINE,
# CATCHUP_GROUPS and SECONDS.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

WHAT=${1:-all}
DATA=${PARLEY_DATA_DIR:-$PARLEY_ROOT/.data/cluster}
HTTP_ADDR=${PARLEY_HTTP_ADDR:-127.0.0.1:8080}
KEY=${PARLEY_SECRET_KEY:-$(cat "$DATA/dev-secret-key" 2>/dev/null || true)}
[ -n "$KEY" ] || die "no secret key: start the cluster with scripts/cluster up or set PARLEY_SECRET_KEY"
ulimit -n 65536 2>/dev/null || true
# Whose CPU time per message to print.
CPU_PIDS=$(bench_cpu_pids "$DATA" gateway message push group auth callback)

run() {
  "$PARLEY_BUILD_DIR/bench/parley-group-loadgen" --host "${HTTP_ADDR%:*}" --port "${HTTP_ADDR##*:}" \
    --sdkappid "${PARLEY_SDKAPPID:-1400000000}" --secret-key "$KEY" \
    --admin "${PARLEY_ADMIN_ID:-administrator}" --cpu "$CPU_PIDS" --prefix "g$(date +%s%N | tail -c 9)" "$@"
}

status=0
if [ "$WHAT" = all ] || [ "$WHAT" = fanout ]; then
  run --mode fanout --members "${FANOUT_MEMBERS:-200}" --rate "${FANOUT_RATE:-50}" \
    --seconds "${SECONDS_TO_RUN:-20}" || status=1
  echo
fi
if [ "$WHAT" = all ] || [ "$WHAT" = groups ]; then
  run --mode groups --groups "${GROUP_COUNT:-1000}" --members "${GROUP_MEMBERS:-20}" \
    --rate "${GROUPS_RATE:-2000}" --seconds "${SECONDS_TO_RUN:-10}" || status=1
  echo
fi
if [ "$WHAT" = all ] || [ "$WHAT" = big ]; then
  run --mode big --members "${BIG_MEMBERS:-6000}" --online "${BIG_ONLINE:-1000}" \
    --messages 30 || status=1
  echo
fi
if [ "$WHAT" = all ] || [ "$WHAT" = catchup ]; then
  run --mode catchup --groups "${CATCHUP_GROUPS:-500}" || status=1
fi
exit $status

#!/usr/bin/env bash
# Offline push through the local cluster to vendor stand-ins: offline to
# bench/apns_sink.cc (parley-apns-sink: HTTP/2 over TLS in C++, checks every
# request's JWT and headers), allmember to tests/fakes/push_vendors.py.
#
#   bench/push_bench.sh [offline|allmember]
#
#   offline  USERS (10,000) users with one APNs device each, none online,
#            get one message each (REST batchsendmsg). The cluster's push
#            service only queues (PARLEY_PUSH_WORKERS=0); once every job is
#            queued a sending parley-push replica (WORKERS, 8) starts:
#            notifications per second accepted by the APNs stand-in,
#            duplicates and missing, the sender's CPU per notification.
#
#   allmember  one im_push to every one of USERS (100,000) accounts, ONLINE
#            (10,000) of them online on a stand-in gateway (sessions in Redis
#            presence; its stream is read back), DEVICES (10,000) of the
#            others with an APNs device: time until every online user's
#            event is in the gateway stream and every device was pushed,
#            and the RSS of push and auth before and at most during the run.
#
# It restarts the cluster (scripts/cluster up) with push pointed at the
# stand-ins and sending nothing; run scripts/cluster up again afterwards.
# Settings: USERS, WORKERS, ONLINE, DEVICES.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

WHAT=${1:-offline}
if [ "$WHAT" = allmember ]; then USERS=${USERS:-100000}; else USERS=${USERS:-10000}; fi
DATA=${PARLEY_DATA_DIR:-$PARLEY_ROOT/.data/cluster}
WORK=$(mktemp -d)
STANDIN_PID=
SINK_PID=
cleanup() {
  [ -n "$STANDIN_PID" ] && kill "$STANDIN_PID" 2>/dev/null || true
  [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null || true
  [ -n "${PARLEY_BENCH_KEEP:-}" ] && echo "files kept in $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

# The stand-ins' keys and expectations, as the e2e tests make them.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/apns.p8" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/fcm.pem" 2>/dev/null
cat >"$WORK/config.json" <<EOF
{"apns": {"key_file": "$WORK/apns.p8", "key_id": "KEY0000001", "team_id": "TEAM000001",
          "topic": "com.example.chat"},
 "fcm": {"key_file": "$WORK/fcm.pem", "project_id": "bench", "client_email": "b@bench"},
 "huawei": {"app_id": "1", "secret": "s"}, "honor": {"app_id": "2", "secret": "s"},
 "xiaomi": {"secret": "s", "package": "p"}, "oppo": {"app_key": "k", "master_secret": "s"},
 "vivo": {"app_id": "3", "app_key": "k", "app_secret": "s"}}
EOF
/usr/bin/python3 "$PARLEY_ROOT/tests/fakes/push_vendors.py" --config "$WORK/config.json" \
  --out "$WORK" >"$WORK/standin.log" 2>&1 &
STANDIN_PID=$!
for _ in $(seq 100); do [ -f "$WORK/ports.json" ] && break; sleep 0.1; done
[ -f "$WORK/ports.json" ] || die "the vendor stand-ins did not start: $(cat "$WORK/standin.log")"
port() { python3 -c "import json,sys; print(json.load(open('$WORK/ports.json'))['$1'])"; }
H2="https://127.0.0.1:$(port h2)"
APNS=$H2
if [ "$WHAT" = offline ]; then
  mkdir -p "$WORK/sink"
  "$PARLEY_BUILD_DIR/bench/parley-apns-sink" --cert "$WORK/ca.crt" --key "$WORK/standin.key" \
    --jwt-key "$WORK/apns.p8" --key-id KEY0000001 --team-id TEAM000001 --topic com.example.chat \
    --out "$WORK/sink" 2>"$WORK/sink.log" &
  SINK_PID=$!
  for _ in $(seq 100); do [ -f "$WORK/sink/port" ] && break; sleep 0.1; done
  [ -f "$WORK/sink/port" ] || die "parley-apns-sink did not start: $(cat "$WORK/sink.log")"
  APNS="https://127.0.0.1:$(cat "$WORK/sink/port")"
fi
export PARLEY_PUSH_VENDOR_URLS="apns=$APNS,apns_sandbox=$APNS,fcm=$H2"
export PARLEY_PUSH_VENDOR_CA_FILE="$WORK/ca.crt"
# The cluster's settings, for the sending replica the driver starts.
export PARLEY_PG_URL=${PARLEY_PG_URL:-postgresql://parley@127.0.0.1:${PARLEY_PG_PORT:-15432}/parley}
export PARLEY_REDIS_ADDR=${PARLEY_REDIS_ADDR:-127.0.0.1:${PARLEY_REDIS_PORT:-16379}}
export PARLEY_TLS_DIR=${PARLEY_TLS_DIR:-$DATA/tls}
if [ "$WHAT" = offline ]; then export PARLEY_PUSH_WORKERS=0; fi
"$PARLEY_ROOT/scripts/cluster" up >"$WORK/cluster.log" 2>&1 || { cat "$WORK/cluster.log"; die "cluster up failed"; }

KEY=$(cat "$DATA/dev-secret-key")
SIG=$("$PARLEY_BUILD_DIR/tools/admin/parley-admin" usersig --sdkappid "${PARLEY_SDKAPPID:-1400000000}" \
  --identifier "${PARLEY_ADMIN_ID:-administrator}" --secret-key "$KEY")
python3 - "$WORK" <<'EOF'
import json, sys
work = sys.argv[1]
json.dump({"Channel": "APNs", "BusinessId": 0, "Environment": "sandbox", "KeyId": "KEY0000001",
           "TeamId": "TEAM000001", "BundleId": "com.example.chat",
           "PrivateKey": open(work + "/apns.p8").read()}, open(work + "/credential.json", "w"))
EOF

/usr/bin/python3 "$PARLEY_ROOT/bench/push_bench.py" "$WHAT" --sdkappid "${PARLEY_SDKAPPID:-1400000000}" \
  --admin "${PARLEY_ADMIN_ID:-administrator}" --usersig "$SIG" --control-port "$(port control)" \
  --credential "$WORK/credential.json" --redis-port "${PARLEY_REDIS_PORT:-16379}" --users "$USERS" \
  --sender "$PARLEY_BUILD_DIR/services/push/parley-push" --sender-log "$WORK/sender.log" \
  --workers "${WORKERS:-8}" --online "${ONLINE:-10000}" --devices "${DEVICES:-10000}" \
  --pg-url "$PARLEY_PG_URL" --data "$DATA" --sink-dir "$WORK/sink" --sink-pid "${SINK_PID:-0}"

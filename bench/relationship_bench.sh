#!/usr/bin/env bash
# REST throughput and latency of sns/friend_check (100 pairs per call) and
# profile/portrait_get (100 users per call) on a large relationship chain.
#
#   scripts/cluster up
#   bench/relationship_bench.sh [users] [friends_per_user] [seconds] [connections]
#
# Seeds (once per size) `users` accounts with profiles and `friends_per_user`
# one-way friends each straight into PostgreSQL: user i's friends are
# i+499k mod users for k = 1..friends, so the checks below hit half friends,
# half strangers. Defaults: 100000 users x 200 friends (20M friend rows;
# seeding takes a few minutes and about 3 GB). Prints requests/s and
# p50/p99 latency (wrk).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

USERS=${1:-100000}
FRIENDS=${2:-200}
SECONDS_TO_RUN=${3:-10}
CONNECTIONS=${4:-32}
DATA=${PARLEY_DATA_DIR:-$PARLEY_ROOT/.data/cluster}
HTTP_ADDR=${PARLEY_HTTP_ADDR:-127.0.0.1:8080}
SDKAPPID=${PARLEY_SDKAPPID:-1400000000}
ADMIN=${PARLEY_ADMIN_ID:-administrator}
PG_URL=${PARLEY_PG_URL:-postgresql://parley@127.0.0.1:${PARLEY_PG_PORT:-15432}/parley}
KEY=${PARLEY_SECRET_KEY:-$(cat "$DATA/dev-secret-key" 2>/dev/null || true)}
[ -n "$KEY" ] || die "no secret key: start the cluster with scripts/cluster up or set PARLEY_SECRET_KEY"
command -v wrk >/dev/null || install_deps
export PARLEY_BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"

marker="rel_bench_${USERS}_${FRIENDS}"
if [ "$(psql "$PG_URL" -tAc "SELECT count(*) FROM rel_friend_groups WHERE sdkappid = $SDKAPPID AND owner_id = 'rb_marker' AND name = '$marker'")" != 1 ]; then
  say "seeding $USERS users x $FRIENDS friends (once)"
  psql "$PG_URL" -q -v ON_ERROR_STOP=1 -v app="$SDKAPPID" -v users="$USERS" \
    -v friends="$FRIENDS" -v marker="$marker" <<'SQL'
SET synchronous_commit = off;
DELETE FROM rel_friends WHERE sdkappid = :app AND owner_id LIKE 'rb\_%';
INSERT INTO accounts (sdkappid, user_id)
  SELECT :app, 'rb_' || i FROM generate_series(0, :users - 1) i ON CONFLICT DO NOTHING;
INSERT INTO rel_users (sdkappid, user_id, profile)
  SELECT :app, 'rb_' || i,
    jsonb_build_object('Tag_Profile_IM_Nick', 'User ' || i, 'Tag_Profile_IM_Gender', 'Gender_Type_Female',
                       'Tag_Profile_IM_Level', i % 100, 'Tag_Profile_IM_SelfSignature', 'hello from ' || i)
  FROM generate_series(0, :users - 1) i
  ON CONFLICT (sdkappid, user_id) DO UPDATE SET profile = EXCLUDED.profile;
INSERT INTO rel_friends (sdkappid, owner_id, friend_id, add_source, add_time)
  SELECT :app, 'rb_' || i, 'rb_' || ((i + 499 * k) % :users), 'AddSource_Type_Bench', 1700000000
  FROM generate_series(0, :users - 1) i, generate_series(1, :friends) k
  ON CONFLICT DO NOTHING;
DELETE FROM rel_friend_groups WHERE sdkappid = :app AND owner_id = 'rb_marker';
INSERT INTO rel_friend_groups VALUES (:app, 'rb_marker', :'marker');
ANALYZE rel_friends; ANALYZE rel_users; ANALYZE accounts;
SQL
fi


SIG=$("$PARLEY_BUILD_DIR/tools/admin/parley-admin" usersig --sdkappid "$SDKAPPID" \
  --identifier "$ADMIN" --secret-key "$KEY")
query="sdkappid=$SDKAPPID&identifier=$ADMIN&usersig=$SIG&random=1&contenttype=json"
export REL_BENCH_USERS=$USERS REL_BENCH_FRIENDS=$FRIENDS
for target in friend_check portrait_get; do
  case $target in
    friend_check) path=sns/friend_check ;;
    portrait_get) path=profile/portrait_get ;;
  esac
  say "$target x100: ${SECONDS_TO_RUN}s, $CONNECTIONS connections"
  REL_BENCH_MODE=$target wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_TO_RUN}s" --latency \
    -s "$(dirname "$0")/rest_relationship.lua" "http://$HTTP_ADDR/v4/$path?$query" \
    | grep -E 'requests/s|p50|non-OK|Socket errors'
done

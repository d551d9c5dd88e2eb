# Shared by scripts/cluster and scripts/test. Source it; it defines functions
# only. Everything it installs comes from Debian packages; everything it starts
# listens on loopback and keeps its files under a data folder.

PARLEY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PARLEY_BUILD_DIR=${PARLEY_BUILD_DIR:-$PARLEY_ROOT/build}

# Build and test dependencies, and the servers of the local cluster.
PARLEY_DEB_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev grpc-proto
  libhiredis-dev libpqxx-dev libboost-dev libssl-dev zlib1g-dev libcurl4-openssl-dev libnghttp2-dev
  libspdlog-dev libfmt-dev nlohmann-json3-dev libgoogle-perftools-dev catch2
  postgresql redis-server redis-tools
  python3 python3-yaml python3-h2 python3-cryptography curl wrk openssl ca-certificates
  clang libclang-rt-dev
)

say() { printf '\033[1m[parley]\033[0m %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

install_deps() {
  local missing=() p
  for p in "${PARLEY_DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  # Package scripts may try to start system services; ours run from the data folder.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# CI builds from scratch twice (gcc, then clang for the fuzz targets) and
# reads no core dumps: it leaves out debug information, which is about a
# fifth of the compile time. Everywhere else the binaries keep it (perf).
ci_build_flags() {
  if [ "${CI:-}" = true ]; then echo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -DNDEBUG"; fi
}

# CI runs no bench (bench/): it leaves the bench tools out of its build, two
# to three minutes of its 30. Everywhere else they are built.
ci_bench_flag() {
  if [ "${CI:-}" = true ]; then echo "-DPARLEY_BUILD_BENCH=OFF"; else echo "-DPARLEY_BUILD_BENCH=ON"; fi
}

build_parley() {
  say "building into $PARLEY_BUILD_DIR"
  local flags
  flags=$(ci_build_flags)
  cmake -S "$PARLEY_ROOT" -B "$PARLEY_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache ${flags:+"$flags"} "$(ci_bench_flag)" "$@" >/dev/null
  cmake --build "$PARLEY_BUILD_DIR" -j2
}

# abs_dir DIR: creates DIR and prints its absolute path (daemons chdir away).
abs_dir() {
  mkdir -p "$1" && (cd "$1" && pwd)
}

pg_bin_dir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

# PostgreSQL refuses to run as root: when we are root it runs as "postgres".
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_data_dir DATA: where the cluster lives; outside DATA when root's
# postgres user cannot reach DATA (e.g. a clone under /root).
pg_data_dir() {
  local data=$1
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$data"; then
    echo "/var/tmp/parley-pg-$(printf '%s' "$data" | md5sum | cut -c1-12)"
  else
    echo "$data/pg"
  fi
}

# start_postgres DATA PORT DBNAME [fast]: initialises on first use, starts on
# 127.0.0.1:PORT with trust auth for user "parley", creates DBNAME.
start_postgres() {
  local data port=$2 db=$3 mode=${4:-}
  data=$(abs_dir "$1")
  local bin pgdata opts
  bin=$(pg_bin_dir) || true
  [ -n "$bin" ] || die "PostgreSQL server binaries not found"
  pgdata=$(pg_data_dir "$data")
  mkdir -p "$data" "$pgdata"
  [ "$(id -u)" = 0 ] && chown postgres: "$pgdata" && chmod 700 "$pgdata"
  if [ ! -f "$pgdata/PG_VERSION" ]; then
    say "initialising PostgreSQL in $pgdata"
    as_pg "$bin/initdb" -D "$pgdata" -U parley --auth=trust -E UTF8 --no-locale >/dev/null
  fi
  opts="-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c max_connections=200"
  # Tests trade durability for speed; the dev cluster keeps PostgreSQL's defaults.
  [ "$mode" = fast ] && opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  if ! as_pg "$bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -o "$opts" -w -t 60 start >/dev/null \
      || { tail -n 20 "$pgdata/server.log" >&2; die "PostgreSQL did not start"; }
  fi
  psql -h 127.0.0.1 -p "$port" -U parley -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
    || psql -h 127.0.0.1 -p "$port" -U parley -d postgres -qc "CREATE DATABASE \"$db\"" >/dev/null
}

# stop_postgres DATA [MODE]: MODE is pg_ctl's shutdown mode (fast, or
# immediate: a crash, recovered from the WAL at the next start).
stop_postgres() {
  local data bin pgdata mode=${2:-fast}
  data=$(abs_dir "$1")
  bin=$(pg_bin_dir) || true
  pgdata=$(pg_data_dir "$data")
  [ -n "$bin" ] && [ -f "$pgdata/PG_VERSION" ] || return 0
  as_pg "$bin/pg_ctl" -D "$pgdata" -m "$mode" -w stop >/dev/null 2>&1 || true
}

# start_redis DATA PORT [fast]
start_redis() {
  local data port=$2 mode=${3:-}
  data=$(abs_dir "$1")
  mkdir -p "$data/redis"
  if redis_ready "$port"; then return 0; fi
  local persist=(--appendonly yes)
  [ "$mode" = fast ] && persist=(--appendonly no --save "")
  redis-server --bind 127.0.0.1 --port "$port" --dir "$data/redis" --daemonize yes \
    --pidfile "$data/redis/redis.pid" --logfile "$data/redis/redis.log" "${persist[@]}" \
    || die "Redis did not start"
  # Until PONG: while it loads its data Redis answers every command with an
  # error (LOADING), which redis-cli does not report in its exit status.
  for _ in $(seq 600); do
    redis_ready "$port" && return 0
    sleep 0.1
  done
  die "Redis did not answer on port $port"
}

redis_ready() {
  [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]
}

stop_redis() {
  local data=$1 port=$2
  redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
}

# wait_http URL SECONDS: until URL answers 200.
wait_http() {
  local url=$1 seconds=${2:-30}
  for _ in $(seq $((seconds * 10))); do
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# The "name=pid,..." list the load generators take (--cpu) for the cluster
# under $1: the named services, PostgreSQL (the postmaster, whose backends
# count with it) and Redis.
bench_cpu_pids() {
  local data=$1 service pid list=""
  shift
  for service in "$@"; do
    pid=$(cat "$data/pids/$service.pid" 2>/dev/null || true)
    [ -n "$pid" ] && list+="$service=$pid,"
  done
  pid=$(head -1 "$data/pg/postmaster.pid" 2>/dev/null || true)
  [ -n "$pid" ] && list+="postgres=$pid,"
  pid=$(cat "$data/redis/redis.pid" 2>/dev/null || true)
  [ -n "$pid" ] && list+="redis=$pid,"
  echo "$list"
}

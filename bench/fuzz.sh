#!/usr/bin/env bash
# Fuzzes every target in tests/fuzz with clang's libFuzzer, ASan and UBSan
# for SECONDS each (default 60), starting from the seed corpus, and prints
# the executions per target and any finding. Builds into build-fuzz/ (every
# library instrumented). New inputs go to build-fuzz/corpus/<target>; add the
# interesting ones to tests/fuzz/corpus so scripts/test replays them.
#
#   bench/fuzz.sh [seconds] [target ...]
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

SECONDS_EACH=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(rest_transcoder client_frame usersig callback_answer)
BUILD=${PARLEY_FUZZ_BUILD_DIR:-$PARLEY_ROOT/build-fuzz}
install_deps  # clang and its libFuzzer runtime among them

say "building the fuzz targets with clang into $BUILD"
flags=$(ci_build_flags)
cmake -S "$PARLEY_ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_COMPILER_LAUNCHER=ccache ${flags:+"$flags"} \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" \
  -DPARLEY_FUZZ_ENGINE=libfuzzer >/dev/null
cmake --build "$BUILD" -j2 --target "${TARGETS[@]/#/parley_fuzz_}"

status=0
for target in "${TARGETS[@]}"; do
  work="$BUILD/corpus/$target"
  mkdir -p "$work" "$BUILD/findings/$target"
  log="$BUILD/fuzz-$target.log"
  say "fuzzing $target for ${SECONDS_EACH}s"
  if "$BUILD/tests/fuzz/parley_fuzz_$target" "$work" "$PARLEY_ROOT/tests/fuzz/corpus/$target" \
      -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$BUILD/findings/$target/" >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    echo "$target: $runs executions in ${SECONDS_EACH}s, no finding (corpus: $(ls "$work" | wc -l) inputs)"
  else
    echo "$target: FINDING, see $log and $BUILD/findings/$target/"
    status=1
  fi
done
exit $status

#!/usr/bin/env bash
# Fuzz every libFuzzer target in tests/fuzz for a while.
#   scripts/fuzz.sh [SECONDS]        each target SECONDS (default 60)
#   FUZZ_TARGETS="history fault_spec" scripts/fuzz.sh 300   only these
#   FUZZ_BUILD_DIR=DIR               build here (default build-fuzz)
# Builds with clang (-DFAULTLINE_FUZZ=ON: libFuzzer, ASan, UBSan; warnings are
# the gcc build's job, so no -Werror here), then runs
# each target on a working copy of its seed corpus (DIR/corpus/<t>, grown
# across runs). Every crash, leak or sanitizer report is saved straight into
# tests/fuzz/corpus/<t>/ as crash-<sha1> (or leak-, timeout-, oom-): the
# normal test run replays that directory (ctest -L fuzz), so a reproducer is
# a regression test from the moment it is found. Commit it with its fix.
# Prints executions per target; exits 1 if any target found something.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
build=${FUZZ_BUILD_DIR:-build-fuzz}
targets=${FUZZ_TARGETS:-"experiment agent_request fault_spec history"}
case "$secs" in ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2 ;; esac
command -v clang >/dev/null || { echo "$0: needs clang (apt-get install clang)" >&2; exit 3; }

echo "== build ($build/, clang, libFuzzer + ASan + UBSan)"
CC=clang cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DFAULTLINE_FUZZ=ON -DFAULTLINE_BENCH=OFF -DFAULTLINE_WERROR=OFF >/dev/null
for t in $targets; do
  cmake --build "$build" -j"$(nproc)" --target "fuzz_$t" >/dev/null
done

status=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Leaks inside third-party libraries, each with its reproducer (the replay tests use it too).
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0}
for t in $targets; do
  seeds=tests/fuzz/corpus/$t
  work=$build/corpus/$t
  log=$build/fuzz-$t.log
  mkdir -p "$work"
  before=$(ls "$seeds" | wc -l)
  echo "== $t: ${secs}s"
  # -max_len large enough for whole experiment files and histories.
  if ! "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -max_len=65536 -timeout=10 \
      -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$seeds/" \
      "$work" "$seeds" >"$log" 2>&1; then
    status=1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  after=$(ls "$seeds" | wc -l)
  echo "   executions: ${execs:-?}, corpus $(ls "$work" | wc -l) inputs," \
       "new reproducers: $((after - before)) (log: $log)"
  if [ "$after" -gt "$before" ]; then
    status=1
    grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error' "$log" || true
  fi
done
exit $status

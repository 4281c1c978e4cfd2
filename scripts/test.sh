#!/usr/bin/env bash
# Install everything, build, and run every test (about 10 minutes on 2
# cores: unit, netns, and every shipped experiment end to end in the lab),
# then the unit and netns tests again under ASan+UBSan.
#   scripts/test.sh            everything (what CI runs)
#   scripts/test.sh --quick    skip the tests labelled `slow`
# Root is needed for the netns and e2e tests; without it they skip visibly,
# and with FAULTLINE_STRICT=1 (as .ci/run sets) a skip for lack of root fails.
set -euo pipefail
# The lab needs root (network namespaces). As a sudo user, run again under
# sudo; as root (a fresh Debian has no sudo) go on as is.
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "$0: needs root, and sudo is not installed" >&2; exit 3; }
  exec sudo -E "$0" "$@"
fi
cd "$(dirname "$0")/.."
jobs=$(nproc)
# label seeds: the whole experiments/seeds/ set (about ten minutes), by hand:
# cd build && ctest -L seeds
# label image: the agent's container image built and run with podman (about a
# minute; needs podman and Debian's archive), by hand: scripts/image.sh --test
labels=(-LE 'seeds|image')
case "${1:-}" in
  "") ;;
  --quick) labels=(-LE 'slow|seeds|image') ;;
  *) echo "usage: scripts/test.sh [--quick]" >&2; exit 2 ;;
esac

scripts/setup.sh --with-services

echo "== build (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFAULTLINE_WERROR=ON >/dev/null
cmake --build build -j"$jobs" 2>&1 | grep -Ev '^\[ *[0-9]+%\]|^(Consolidate|Scanning|Built target)' || true
cmake --build build -j"$jobs" >/dev/null # fails loudly if the filtered build failed

echo "== tests"
rc=0
(cd build && ctest --output-on-failure --timeout 900 "${labels[@]}") || rc=$?
# A program whose tests skipped exits 77: ctest lists it above as "Skipped".
# Here, why each test skipped and which kernel-feature branch each one took.
echo "== skips and kernel-feature branches"
grep -hE '^(SKIP|BRANCH) ' build/Testing/Temporary/LastTest.log | sort -u || echo "(no skip)"
[ "$rc" -eq 0 ] || exit "$rc"

echo "== sanitizer build (build-asan/): unit and netns tests under ASan+UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFAULTLINE_SANITIZE=ON -DFAULTLINE_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs" >/dev/null
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure --timeout 900 -L 'unit|netns' -LE slow)

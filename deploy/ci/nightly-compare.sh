#!/usr/bin/env bash
# Nightly regression check: run the experiments into NIGHTS/<UTC time>, compare
# tonight with the nights kept before it (`faultline compare`: the baseline is
# the median of those nights), then keep only the last KEEP_NIGHTS (default 7).
# A figure that got worse beyond its tolerance fails the job even while the
# verifiers still pass ("failover took 2.5 s for a month, tonight 9 s").
#
# Usage: deploy/ci/nightly-compare.sh NIGHTS_DIR [EXPERIMENT...]
#   (default experiments: experiments/*.yaml; FAULTLINE: the binary,
#   default build/controller/faultline; needs root for the lab)
# Exit: the run's own code when the harness or a file failed (3, 2); else 1
# when a verifier failed or a figure regressed; else compare's 2/3; else 0.
set -euo pipefail

nights=${1:?usage: nightly-compare.sh NIGHTS_DIR [EXPERIMENT...]}
shift
fl=${FAULTLINE:-build/controller/faultline}
keep=${KEEP_NIGHTS:-7}
if [ $# -gt 0 ]; then exps=("$@"); else exps=(experiments/*.yaml); fi

mkdir -p "$nights"
tonight="$nights/$(date -u +%Y%m%dT%H%M%SZ)"
run_status=0
"$fl" run -q --out "$tonight" "${exps[@]}" || run_status=$?

# The earlier nights still kept, oldest first (folder names sort by time).
mapfile -t earlier < <(find "$nights" -mindepth 1 -maxdepth 1 -type d ! -path "$tonight" |
                       sort | tail -n $((keep - 1)))
cmp_status=0
if [ ${#earlier[@]} -gt 0 ]; then
  "$fl" compare --out "$tonight" "${earlier[@]}" "$tonight" || cmp_status=$?
else
  echo "nightly: the first night kept; nothing to compare with yet"
fi

# Keep the last $keep nights, tonight included.
find "$nights" -mindepth 1 -maxdepth 1 -type d | sort | head -n -"$keep" |
  while read -r old; do rm -rf -- "$old"; done

echo "nightly: report $tonight/$( [ -f "$tonight/index.html" ] && echo index.html || echo report.html )"
[ -f "$tonight/compare.html" ] && echo "nightly: trend $tonight/compare.html"
if [ "$run_status" -ge 2 ]; then exit "$run_status"; fi
if [ "$run_status" -eq 1 ] || [ "$cmp_status" -eq 1 ]; then exit 1; fi
exit "$cmp_status"

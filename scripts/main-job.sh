#!/usr/bin/env bash
# The main job: install, build, and run the Key Vault region-outage
# experiment in the built-in lab, end to end, with a verdict.
#   scripts/main-job.sh [EXPERIMENT.yaml ...]   (default: the key-vault one)
# Outputs land in runs/<name>-<time>/ (report.json, junit.xml, history.jsonl,
# faults.jsonl, logs). Exit code: 0 pass, 1 a verifier failed, 2 bad file,
# 3 the harness could not run. Needs root (it builds network namespaces).
set -euo pipefail
# The lab needs root (network namespaces). As a sudo user, run again under
# sudo; as root (a fresh Debian has no sudo) go on as is.
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "$0: needs root, and sudo is not installed" >&2; exit 3; }
  exec sudo -E "$0" "$@"
fi
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
[ $# -gt 0 ] || set -- experiments/key-vault-region-outage.yaml
exec build/controller/faultline run "$@"

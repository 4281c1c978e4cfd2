#!/usr/bin/env bash
# The main job: install, build, and run the Key Vault region-outage
# experiment in the built-in lab, end to end, with a verdict.
# (Until `faultline run` lands, this runs the injector demonstration.)
set -euo pipefail
cd "$(dirname "$0")/.."
exec scripts/demo-injector.sh

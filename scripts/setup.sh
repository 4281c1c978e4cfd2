#!/usr/bin/env bash
# Install every Debian package faultline needs to build, test and run its lab.
# Idempotent: when everything is present it prints one line and exits 0.
# Usage: scripts/setup.sh [--with-services]   (services: redis, etcd, postgres)
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config clang-format
  libnftnl-dev libmnl-dev libnl-3-dev libnl-route-3-dev
  libmicrohttpd-dev libgnutls28-dev libpcap-dev libjansson-dev libyajl-dev libfyaml-dev
  libcurl4-openssl-dev libhiredis-dev libpq-dev libcmocka-dev
  iproute2 nftables curl procps psmisc wrk openssl
  chromium
)
svc_pkgs=(redis-server redis-sentinel etcd-server etcd-client
          postgresql-15 postgresql-15-auto-failover pg-auto-failover-cli)

want=("${pkgs[@]}")
for a in "$@"; do
  case "$a" in
    --with-services) want+=("${svc_pkgs[@]}") ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$a' (try --help)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#want[@]} packages present"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Services must not start on the host itself: the lab starts its own copies
# inside network namespaces. policy-rc.d keeps the postinst scripts from
# starting them (and leaving daemons on the host's loopback).
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
log=$(mktemp)
if ! { $sudo apt-get update -qq && \
       $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  echo "setup: apt-get failed (output above)" >&2
  exit 1
fi
rm -f "$log"
echo "setup: done"

#!/usr/bin/env bash
# A small injector demonstration in two namespaces: a TCP connection works,
# a partition cuts it (connect times out), the partition is reverted, it
# works again, and nothing is left behind. Needs root. Builds first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build >/dev/null && cmake --build build -j"$(nproc)" --target faultline-inject >/dev/null
inj=$PWD/build/injector/faultline-inject
a=fl-demo-a-$$ b=fl-demo-b-$$
cleanup() { ip netns pids $b 2>/dev/null | xargs -r kill; ip netns del $a 2>/dev/null; ip netns del $b 2>/dev/null; rm -rf /run/faultline/demo-$$; }
trap cleanup EXIT
ip netns add $a; ip netns add $b
ip -n $a link add eth0 type veth peer name eth0 netns $b
ip -n $a addr add 198.18.1.1/16 dev eth0; ip -n $b addr add 198.18.2.1/16 dev eth0
for n in $a $b; do ip -n $n link set lo up; ip -n $n link set eth0 up; done
ip netns exec $b nc -lk 198.18.2.1 7000 >/dev/null &
sleep 0.3
try() { if ip netns exec $a timeout 2 bash -c 'exec 3<>/dev/tcp/198.18.2.1/7000' 2>/dev/null; then echo "  connect a -> b: ok"; else echo "  connect a -> b: FAILED (timed out)"; fi; }
echo "before the fault:"; try
spec='{"kind":"partition","mode":"drop","groups":[["198.18.1.0/24"],["198.18.2.0/24"]]}'
echo "apply on b: $spec"
ip netns exec $b $inj --state-dir /run/faultline/demo-$$ apply --id demo "$spec"
ip netns exec $b $inj --state-dir /run/faultline/demo-$$ list | grep -E '"(id|packets)"' | sed 's/^/  /'
echo "during the fault:"; try
ip netns exec $b $inj --state-dir /run/faultline/demo-$$ list | grep -E '"packets"' | sed 's/^ */  dropped /'
ip netns exec $b $inj --state-dir /run/faultline/demo-$$ revert --id demo
echo "after revert:"; try
echo "nf_tables ruleset in b after revert: '$(ip netns exec $b nft list ruleset)' (empty)"

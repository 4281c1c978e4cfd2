#!/bin/sh
# Plays a small staging environment on this machine, for the staging e2e test
# (tests/e2e/test_e2e_staging.c) and for trying `faultline run` against
# staging by hand (docs/staging.md). Needs root, iproute2, openssl; redis-server
# and redis-sentinel for the Redis service.
#
#   staging.sh up DIR PREFIX AGENT_BIN     namespaces, certificates, token, 3 agents
#   staging.sh refstore DIR PREFIX BIN     a faultline-refstore replica per host
#   staging.sh redis DIR PREFIX            redis-server + redis-sentinel per host
#   staging.sh stop DIR PREFIX refstore|redis   stop that service
#   staging.sh down DIR PREFIX             stop everything, delete the namespaces
#
# Layout (every name starts with PREFIX, so that nothing collides with a lab
# or another test; nothing is created in the root network namespace):
#
#   PREFIXctl   the controller's side: bridge ctlbr 198.19.64.1/24 (control
#               network, the agents' API) and bridge databr 198.18.64.1/24
#               (data network, the workload's clients)
#   PREFIXh1..3 one "machine" each: ctl0 198.19.64.1N/24 (its agent, HTTPS on
#               port 7070), data0 198.18.64.1N/24 (its service)
#
# DIR receives: tls/ca.pem (the CA that signed every agent's certificate),
# tls/other-ca.pem (a CA that signed nothing here), tls/hN.pem|key (agent N,
# subjectAltName IP:198.19.64.1N), tls/client.pem|key (a client certificate
# from ca.pem), token and wrong-token (bearer tokens), agent-hN/ (state),
# *.log, and a pid file per process started.
set -eu

CTL_NET=198.19.64
DATA_NET=198.18.64
HOSTS="1 2 3"

die() { echo "staging.sh: $*" >&2; exit 1; }

# ns_run NS LOG PIDFILE CMD...: start CMD in NS in the background, its pid in PIDFILE.
ns_run() {
    ns=$1 log=$2 pidfile=$3
    shift 3
    ip netns exec "$ns" setsid "$@" >"$log" 2>&1 </dev/null &
    echo $! >"$pidfile"
}

net_up() {
    p=$1
    ip netns add "${p}ctl"
    ip -n "${p}ctl" link set lo up
    ip -n "${p}ctl" link add ctlbr type bridge
    ip -n "${p}ctl" link add databr type bridge
    ip -n "${p}ctl" addr add "$CTL_NET.1/24" dev ctlbr
    ip -n "${p}ctl" addr add "$DATA_NET.1/24" dev databr
    ip -n "${p}ctl" link set ctlbr up
    ip -n "${p}ctl" link set databr up
    for i in $HOSTS; do
        h="${p}h$i"
        ip netns add "$h"
        ip -n "$h" link set lo up
        # Both ends made inside the namespaces: nothing appears in the root one.
        ip -n "${p}ctl" link add "c$i" type veth peer name ctl0 netns "$h"
        ip -n "${p}ctl" link add "d$i" type veth peer name data0 netns "$h"
        ip -n "${p}ctl" link set "c$i" master ctlbr up
        ip -n "${p}ctl" link set "d$i" master databr up
        ip -n "$h" addr add "$CTL_NET.1$i/24" dev ctl0
        ip -n "$h" addr add "$DATA_NET.1$i/24" dev data0
        ip -n "$h" link set ctl0 up
        ip -n "$h" link set data0 up
    done
}

# cert NAME CA SAN EKU: a key and a certificate signed by CA.
cert() {
    name=$1 ca=$2 san=$3 eku=$4
    openssl req -new -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" \
        -subj "/CN=$(basename "$name")" 2>/dev/null
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=%s\n%s' \
        "$eku" "$san" >"$name.ext"
    openssl x509 -req -in "$name.csr" -CA "$ca.pem" -CAkey "$ca.key" -CAcreateserial \
        -days 2 -out "$name.pem" -extfile "$name.ext" 2>/dev/null
    rm -f "$name.csr" "$name.ext"
    chmod 600 "$name.key"
}

certs() {
    t=$1/tls
    mkdir -p "$t"
    for ca in ca other-ca; do
        openssl req -x509 -newkey rsa:2048 -nodes -keyout "$t/$ca.key" -out "$t/$ca.pem" \
            -days 2 -subj "/CN=faultline staging test $ca" 2>/dev/null
    done
    for i in $HOSTS; do
        cert "$t/h$i" "$t/ca" "subjectAltName=IP:$CTL_NET.1$i" serverAuth
    done
    cert "$t/client" "$t/ca" "" clientAuth
}

agents_up() {
    d=$1 p=$2 bin=$3
    (umask 077; od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"$d/token"
     od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"$d/wrong-token")
    for i in $HOSTS; do
        ns_run "${p}h$i" "$d/agent-h$i.log" "$d/agent-h$i.pid" "$bin" \
            --listen "$CTL_NET.1$i:7070" --token-file "$d/token" --state-dir "$d/agent-h$i" \
            --control "$CTL_NET.0/24" --allow "$DATA_NET.0/24" --allow dev:data0 \
            --tls-cert "$d/tls/h$i.pem" --tls-key "$d/tls/h$i.key" -v
    done
    for i in $HOSTS; do
        n=0
        until ip netns exec "${p}ctl" curl -sf --cacert "$d/tls/ca.pem" \
            -H "Authorization: Bearer $(cat "$d/token")" \
            "https://$CTL_NET.1$i:7070/v1/health" >/dev/null 2>&1; do
            n=$((n + 1))
            [ $n -lt 100 ] || die "agent h$i does not answer (see $d/agent-h$i.log)"
            sleep 0.1
        done
    done
}

# The refstore replicas as the experiment names them: w1 west/z1, w2 west/z2, n1 north/z1.
refstore_up() {
    d=$1 p=$2 bin=$3
    cfg='{"preset":"key-vault","primary":"west","replication":"sync","failover_after":1000}'
    set -- "w1 west z1" "w2 west z2" "n1 north z1"
    i=1
    for spec in "$@"; do
        # shellcheck disable=SC2086
        set -- $spec
        peers=""
        j=1
        for other in "w1 west z1" "w2 west z2" "n1 north z1"; do
            # shellcheck disable=SC2086
            set -- $other
            [ $j -eq $i ] || peers="$peers --peer $1=$2/$3@http://$DATA_NET.1$j:7000"
            j=$((j + 1))
        done
        # shellcheck disable=SC2086
        set -- $spec
        # shellcheck disable=SC2086
        ns_run "${p}h$i" "$d/refstore-h$i.log" "$d/refstore-h$i.pid" "$bin" --id "$1" \
            --region "$2" --zone "$3" --listen "$DATA_NET.1$i:7000" --config "$cfg" $peers
        i=$((i + 1))
    done
    for i in $HOSTS; do
        n=0
        until ip netns exec "${p}ctl" curl -sf "http://$DATA_NET.1$i:7000/v1/status" \
            >/dev/null 2>&1; do
            n=$((n + 1))
            [ $n -lt 100 ] || die "refstore h$i does not answer (see $d/refstore-h$i.log)"
            sleep 0.1
        done
    done
}

# Redis with Sentinel: h1 (west) the master, h2 (north) and h3 (east) its replicas.
redis_up() {
    d=$1 p=$2
    for i in $HOSTS; do
        r="$d/redis-h$i"
        mkdir -p "$r"
        rep=""
        [ "$i" = 1 ] || rep="replicaof $DATA_NET.11 6379"
        printf 'bind %s\nport 6379\nprotected-mode no\ndaemonize no\nlogfile ""\ndir %s\nsave ""\nappendonly no\nrepl-diskless-sync-delay 0\nmin-replicas-to-write 1\nmin-replicas-max-lag 2\n%s\n' \
            "$DATA_NET.1$i" "$r" "$rep" >"$r/redis.conf"
        printf 'bind %s\nport 26379\nprotected-mode no\ndaemonize no\nlogfile ""\ndir %s\nsentinel monitor vault %s 6379 2\nsentinel down-after-milliseconds vault 1000\nsentinel failover-timeout vault 10000\nsentinel parallel-syncs vault 1\n' \
            "$DATA_NET.1$i" "$r" "$DATA_NET.11" >"$r/sentinel.conf"
        ns_run "${p}h$i" "$d/redis-server-h$i.log" "$d/redis-server-h$i.pid" \
            /usr/bin/redis-server "$r/redis.conf"
    done
    wait_redis "$p" 1 6379 "INFO replication" "connected_slaves:2"
    for i in 2 3; do wait_redis "$p" $i 6379 "INFO replication" "master_link_status:up"; done
    for i in $HOSTS; do
        ns_run "${p}h$i" "$d/redis-sentinel-h$i.log" "$d/redis-sentinel-h$i.pid" \
            /usr/bin/redis-sentinel "$d/redis-h$i/sentinel.conf"
    done
    for i in $HOSTS; do wait_redis "$p" "$i" 26379 "SENTINEL CKQUORUM vault" "3 usable Sentinels"; done
}

# wait_redis PREFIX N PORT COMMAND WANT: until COMMAND's answer on host N contains WANT.
wait_redis() {
    n=0
    # shellcheck disable=SC2086
    until ip netns exec "${1}ctl" redis-cli -h "$DATA_NET.1$2" -p "$3" $4 2>/dev/null |
        grep -q "$5"; do
        n=$((n + 1))
        [ $n -lt 300 ] || die "redis on h$2:$3: '$4' never said '$5'"
        sleep 0.1
    done
}

# stop DIR WHAT: SIGTERM to the processes of WHAT we started, by pid, then wait.
stop() {
    for f in "$1/$2"*.pid; do
        [ -f "$f" ] || continue
        kill "$(cat "$f")" 2>/dev/null || true
    done
    for f in "$1/$2"*.pid; do
        [ -f "$f" ] || continue
        n=0
        while kill -0 "$(cat "$f")" 2>/dev/null && [ $n -lt 50 ]; do
            sleep 0.1
            n=$((n + 1))
        done
        kill -9 "$(cat "$f")" 2>/dev/null || true
        rm -f "$f"
    done
}

down() {
    d=$1 p=$2
    stop "$d" refstore
    stop "$d" redis
    stop "$d" agent
    for ns in "${p}h1" "${p}h2" "${p}h3" "${p}ctl"; do
        [ -e "/run/netns/$ns" ] || continue
        # Whatever still runs in our namespaces (started by this script) goes with them.
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
}

[ $# -ge 3 ] || die "usage: staging.sh up|refstore|redis|stop|down DIR PREFIX [...]"
cmd=$1 dir=$2 prefix=$3
shift 3
case "$prefix" in
flstg*-) ;;
*) die "PREFIX must look like flstg<N>- (found '$prefix')" ;;
esac
mkdir -p "$dir"
case "$cmd" in
up)
    [ $# -eq 1 ] || die "usage: staging.sh up DIR PREFIX AGENT_BIN"
    net_up "$prefix"
    certs "$dir"
    agents_up "$dir" "$prefix" "$1"
    ;;
refstore)
    [ $# -eq 1 ] || die "usage: staging.sh refstore DIR PREFIX REFSTORE_BIN"
    refstore_up "$dir" "$prefix" "$1"
    ;;
redis) redis_up "$dir" "$prefix" ;;
stop)
    [ $# -eq 1 ] || die "usage: staging.sh stop DIR PREFIX refstore|redis"
    stop "$dir" "$1"
    ;;
down) down "$dir" "$prefix" ;;
*) die "unknown command '$cmd'" ;;
esac

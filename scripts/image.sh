#!/usr/bin/env bash
# Build the faultline-agent container image from deploy/container/Containerfile
# with podman or docker, and print its name and size. --test builds it in a
# private, temporary store, checks it and removes everything again. Run
# `scripts/image.sh --help` for the options.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n 's/^project(faultline VERSION \([0-9.]*\).*/\1/p' "$here/CMakeLists.txt")
default_tag="localhost/faultline/agent:${version:-0.0.0}"
base_repo="localhost/faultline-base/debian"

usage() {
  cat <<EOF
usage: scripts/image.sh [--tag NAME] [--builder podman|docker] [--base-from-archive]
                        [--cache DIR] [--mirror URL] [-- BUILD-ARGS...]
       scripts/image.sh --test [--builder podman|docker] [--cache DIR] [--mirror URL]

Builds the faultline-agent image (deploy/container/Containerfile, context: the
repository root) and prints its name and size. The image holds the agent
binary and the Debian 12 packages of the libraries it links, nothing else.

  --tag NAME           image name (default: $default_tag, the version
                       from CMakeLists.txt). deploy/k8s/faultline-agent.yaml names
                       this default: when you push the image to your registry
                       (--tag registry.example.net/faultline/agent:$version), change
                       the DaemonSet's image: to the same name.
  --builder B          podman or docker. Default: podman when installed, else
                       docker when its daemon answers (a docker client alone
                       cannot build).
  --base-from-archive  make the base images from Debian's archive instead of
                       pulling debian:12 and debian:12-slim from a registry:
                       debootstrap --variant=minbase bookworm (root; the
                       archive's signatures are checked with the host's
                       debian-archive-keyring), imported as
                       $base_repo:12 and :12-slim, then the
                       build runs with --pull=never. For machines that reach
                       a Debian mirror but no container registry.
  --cache DIR          where --base-from-archive keeps the two root file
                       system tarballs between runs (default:
                       \${XDG_CACHE_HOME:-~/.cache}/faultline; delete to refresh)
  --mirror URL         Debian mirror for debootstrap
                       (default: http://deb.debian.org/debian)
  --test               the image build test (ctest label 'image'): bases from
                       the archive, a build in a private podman store under a
                       temporary directory (docker: unique tags), checks that
                       the image runs the agent with every library present,
                       as uid 0 with the documented entrypoint and stop signal,
                       and without compilers; then removes images, containers,
                       mounts and the directory, and prints how long each
                       phase took. Exit 0 pass, 1 fail, 3 cannot run here.
  -- ARGS              passed to 'podman build' / 'docker build' as they are,
                       e.g. -- --isolation chroot (hosts where the OCI runtime
                       cannot start containers, such as cgroup v1 hybrid ones)

Examples:
  scripts/image.sh                          # podman or docker, bases pulled
  scripts/image.sh --base-from-archive      # no registry needed
  scripts/image.sh --tag registry.example.net/faultline/agent:$version
  scripts/image.sh --test --cache build/image-cache

Exit status: 0 built, 1 build or check failed, 2 bad usage, 3 no builder
(or a tool --base-from-archive needs) on this machine.
EOF
}

die() { echo "image.sh: $1" >&2; exit "${2:-1}"; }

tag=$default_tag
builder=""
from_archive=false
test_mode=false
cache="${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/faultline"
mirror="http://deb.debian.org/debian"
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
  --tag) [ $# -ge 2 ] || die "--tag needs a NAME" 2; tag=$2; shift ;;
  --builder) [ $# -ge 2 ] || die "--builder needs podman or docker" 2; builder=$2; shift ;;
  --base-from-archive) from_archive=true ;;
  --cache) [ $# -ge 2 ] || die "--cache needs a DIR" 2; cache=$2; shift ;;
  --mirror) [ $# -ge 2 ] || die "--mirror needs a URL" 2; mirror=$2; shift ;;
  --test) test_mode=true ;;
  -h | --help) usage; exit 0 ;;
  --) shift; extra=("$@"); break ;;
  *) die "unknown option '$1' (try --help)" 2 ;;
  esac
  shift
done

# Which builder: the one asked for, or podman, or a docker whose daemon answers.
pick_builder() {
  case "$builder" in
  podman) command -v podman >/dev/null || die "--builder podman: podman is not installed (apt-get install podman)" 3 ;;
  docker)
    command -v docker >/dev/null || die "--builder docker: docker is not installed" 3
    docker info >/dev/null 2>&1 || die "--builder docker: the docker client is installed but no daemon answers (docker info fails); start dockerd or use podman" 3 ;;
  "")
    if command -v podman >/dev/null; then
      builder=podman
    elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
      builder=docker
    elif command -v docker >/dev/null; then
      die "no image builder: podman is not installed, and the docker client finds no daemon (docker info fails). Install podman (apt-get install podman) or start dockerd" 3
    else
      die "no image builder: neither podman nor docker is installed. Install podman (apt-get install podman), or docker with a running daemon" 3
    fi ;;
  *) die "--builder '$builder': expected podman or docker" 2 ;;
  esac
}

# B: the builder command with its global options (--test: a private store).
B=()
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# Two root file systems from the archive, cached as tarballs: a minbase
# (debian:12) and the same with documentation and locales removed and kept
# out by dpkg, as the registry's debian:12-slim is made.
make_base_tarballs() {
  local full="$cache/debian-bookworm-minbase.tar" slim="$cache/debian-bookworm-minbase-slim.tar"
  local rootfs log security
  if [ -s "$full" ] && [ -s "$slim" ]; then
    echo "== base: cached $full"
    return 0
  fi
  [ "$(id -u)" -eq 0 ] || die "--base-from-archive needs root (debootstrap makes device nodes and owns files)" 3
  command -v debootstrap >/dev/null || die "--base-from-archive needs debootstrap (apt-get install debootstrap)" 3
  mkdir -p "$cache"
  rootfs=$(mktemp -d "$cache/rootfs.XXXXXX")
  log="$rootfs.log"
  echo "== base: debootstrap --variant=minbase bookworm from $mirror"
  if ! debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$log" 2>&1; then
    tail -20 "$log" >&2
    rm -rf "$rootfs" "$log"
    die "debootstrap failed (last lines above)"
  fi
  rm -f "$log"
  # Sources as in the registry's image: the release, its updates, security.
  security="${mirror%/debian}/debian-security"
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/*
  tar -C "$rootfs" --numeric-owner -cf "$full.tmp" . && mv "$full.tmp" "$full"
  mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d"
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  find "$rootfs/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
  find "$rootfs/usr/share/locale" -mindepth 1 ! -name locale.alias ! -type d -delete
  rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
  tar -C "$rootfs" --numeric-owner -cf "$slim.tmp" . && mv "$slim.tmp" "$slim"
  rm -rf "$rootfs"
}

# Import the cached tarballs as the two base images.
import_bases() {
  local suffix=$1 out name file
  for name in 12 12-slim; do
    file="$cache/debian-bookworm-minbase.tar"
    [ "$name" = 12 ] || file="$cache/debian-bookworm-minbase-slim.tar"
    out=$("${B[@]}" import --change 'CMD ["bash"]' "$file" "$base_repo:$name$suffix" 2>&1) || {
      echo "$out" >&2
      die "$builder import $file failed (output above)"
    }
    echo "== base: $base_repo:$name$suffix imported"
  done
}

# Build with the bases given by $1 (image names; empty: the Containerfile's).
build_image() {
  local base=$1 slim=$2 args=(-f "$here/deploy/container/Containerfile" -t "$tag"
    --build-arg "VERSION=$version")
  if [ -n "$base" ]; then
    args+=(--build-arg "DEBIAN_IMAGE=$base" --build-arg "DEBIAN_SLIM_IMAGE=$slim")
    if [ "$builder" = podman ]; then
      args+=(--pull=never)
    else
      args+=(--pull=false)
    fi
  fi
  echo "== build: $builder build -t $tag"
  "${B[@]}" build "${args[@]}" "${extra[@]}" "$here" || {
    local rc=$?
    if [ -z "$base" ]; then
      die "$builder build failed (exit $rc); if no registry is reachable from here, --base-from-archive makes the Debian bases from the archive"
    fi
    die "$builder build failed (exit $rc)"
  }
}

size_of() {
  local bytes
  bytes=$("${B[@]}" image inspect --format '{{.Size}}' "$1")
  awk -v b="$bytes" 'BEGIN { printf "%.1f MB (%d bytes)", b / 1e6, b }'
}

# --- the checks of --test ----------------------------------------------------
fails=0
check() { # check WHAT COMMAND...: run, report, count a failure
  local what=$1
  shift
  if "$@"; then
    echo "ok   $what"
  else
    echo "FAIL $what"
    fails=$((fails + 1))
  fi
}

check_config() {
  local got want='0:0 ["/usr/sbin/faultline-agent"] SIGTERM'
  got=$("${B[@]}" image inspect --format '{{.Config.User}} {{json .Config.Entrypoint}} {{.Config.StopSignal}}' "$tag")
  [ "$got" = "$want" ] || { echo "     image config '$got', expected '$want'"; return 1; }
}

# Run COMMAND in the image: podman mounts the image and chroots (no OCI
# runtime needed: works where crun/runc cannot start a container), docker runs it.
in_image() {
  if [ "$builder" = podman ]; then
    chroot "$mnt" "$@"
  else
    docker run --rm --network none --entrypoint "$1" "$tag" "${@:2}"
  fi
}

check_libraries() {
  local out
  out=$(in_image /usr/bin/ldd /usr/sbin/faultline-agent) || return 1
  if grep -q 'not found' <<<"$out"; then
    grep 'not found' <<<"$out" | sed 's/^/     /'
    return 1
  fi
}

check_runs() {
  in_image /usr/sbin/faultline-agent --help | grep -q '^usage: faultline-agent'
}

check_no_toolchain() {
  local t
  for t in gcc cc cmake make; do
    if in_image /bin/sh -c "command -v $t" >/dev/null 2>&1; then
      echo "     $t is in the runtime image"
      return 1
    fi
  done
}

# The runtime that can start a container here (podman: the default, else
# runc, e.g. where crun refuses cgroup v1 hybrid hosts); empty, with the
# reason in run_why, when none can.
run_opts=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
run_why=""
pick_runtime() {
  local out
  out=$("${B[@]}" run --rm "${run_opts[@]}" --network none --entrypoint /bin/true "$tag" 2>&1) && return 0
  if [ "$builder" = podman ] && command -v runc >/dev/null &&
    "${B[@]}" --runtime runc run --rm "${run_opts[@]}" --network none --entrypoint /bin/true "$tag" >/dev/null 2>&1; then
    B+=(--runtime runc)
    return 0
  fi
  run_why=$(tail -1 <<<"$out")
  return 1
}

# Start the agent the way the DaemonSet does (uid 0, capabilities dropped but
# NET_ADMIN NET_RAW SETPCAP, read-only root, no_new_privs, the token mounted
# read-only, the state directory mounted), in a network namespace of its own
# with only loopback; then SIGTERM it. It must serve, keep only NET_ADMIN and
# NET_RAW in its bounding set, and exit 0 after reverting.
check_runs_like_the_daemonset() {
  local name="faultline-image-test-$$" pid caps ok=false code
  mkdir -p "$work/secrets" "$work/state"
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/secrets/agent.token"
  chmod 0400 "$work/secrets/agent.token"
  "${B[@]}" run -d --name "$name" "${run_opts[@]}" --network none \
    --cap-drop ALL --cap-add NET_ADMIN,NET_RAW,SETPCAP --read-only \
    --security-opt no-new-privileges \
    -v "$work/secrets:/etc/faultline:ro" -v "$work/state:/run/faultline-agent" "$tag" \
    --listen 127.0.0.1:7300 --token-file /etc/faultline/agent.token \
    --state-dir /run/faultline-agent --allow 10.0.0.0/16 --control 127.0.0.0/8 >/dev/null || return 1
  for _ in $(seq 50); do
    if "${B[@]}" logs "$name" 2>&1 | grep -q 'serving on 127.0.0.1:7300'; then
      ok=true
      break
    fi
    sleep 0.2
  done
  "${B[@]}" logs "$name" 2>&1 | sed 's/^/     | /'
  $ok || { echo "     the agent did not serve within 10 s"; return 1; }
  pid=$("${B[@]}" inspect -f '{{.State.Pid}}' "$name")
  caps=$(awk '/^CapBnd/ { print $2 }' "/proc/$pid/status")
  "${B[@]}" stop -t 30 "$name" >/dev/null
  code=$("${B[@]}" inspect -f '{{.State.ExitCode}}' "$name")
  "${B[@]}" rm -f "$name" >/dev/null
  # CAP_NET_ADMIN (12) and CAP_NET_RAW (13): 0x3000.
  [ "$caps" = 0000000000003000 ] || { echo "     bounding set $caps, expected 0000000000003000"; return 1; }
  [ "$code" = 0 ] || { echo "     exit status $code after SIGTERM, expected 0"; return 1; }
}

run_test() {
  local t0 t1 t2 t3 suffix="" base slim
  [ "$(id -u)" -eq 0 ] || die "--test needs root (debootstrap; podman image mount)" 3
  pick_builder
  t0=$(now)
  work=$(mktemp -d "${TMPDIR:-/var/tmp}/faultline-image-test.XXXXXX")
  if [ "$builder" = podman ]; then
    # A store of its own: nothing this test makes lands in the host's.
    B=(podman --root "$work/root" --runroot "$work/runroot" --storage-driver overlay)
    extra+=(--isolation chroot)
  else
    B=(docker)
    suffix="-test-$$"
    tag="$tag-test-$$"
  fi
  mnt=""
  # Expanded now: the trap may run after run_test's locals are gone.
  # shellcheck disable=SC2064
  trap "test_cleanup '$work' '$suffix'" EXIT
  make_base_tarballs
  import_bases "$suffix"
  base="$base_repo:12$suffix"
  slim="$base_repo:12-slim$suffix"
  t1=$(now)
  build_image "$base" "$slim" >"$work/build.log" 2>&1 || {
    tail -30 "$work/build.log" >&2
    die "build failed (last lines above)"
  }
  t2=$(now)
  [ "$builder" = podman ] && mnt=$("${B[@]}" image mount "$tag")
  check "image config: user 0:0, entrypoint, stop signal" check_config
  check "every library of faultline-agent is in the image (ldd)" check_libraries
  check "faultline-agent --help runs in the image" check_runs
  check "no compiler or build tool in the runtime image" check_no_toolchain
  if pick_runtime; then
    check "the agent serves and stops like in the DaemonSet (uid 0, caps dropped)" \
      check_runs_like_the_daemonset
  else
    echo "skip run: no container can start on this host ($run_why); the image was checked without running it"
  fi
  echo "image: $tag, $(size_of "$tag")"
  t3=$(now)
  echo "time: base $(secs "$t0" "$t1") s, build $(secs "$t1" "$t2") s, checks $(secs "$t2" "$t3") s"
  [ "$fails" -eq 0 ] || die "$fails check(s) failed"
  echo "image test: passed"
}

# Remove everything --test made; fail loudly if a mount or image stays.
test_cleanup() {
  local rc=$? work=$1 suffix=$2 left
  [ -n "$work" ] || exit "$rc"
  if [ "$builder" = podman ]; then
    [ -n "$mnt" ] && "${B[@]}" image unmount -a >/dev/null 2>&1
    "${B[@]}" rm -a -f >/dev/null 2>&1 || true
    "${B[@]}" rmi -a -f >/dev/null 2>&1 || true
  elif [ "$builder" = docker ]; then
    docker rm -f "faultline-image-test-$$" >/dev/null 2>&1 || true
    docker rmi -f "$tag" "$base_repo:12$suffix" "$base_repo:12-slim$suffix" >/dev/null 2>&1 || true
    docker builder prune -f >/dev/null 2>&1 || true
  fi
  left=$(awk -v w="$work" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo)
  if [ -n "$left" ]; then
    echo "image.sh: mounts left under $work: $left" >&2
    rc=1
  else
    rm -rf "$work"
  fi
  echo "cleanup: $( [ -z "$left" ] && echo "store, images and $work removed" || echo "FAILED")"
  exit "$rc"
}

if $test_mode; then
  run_test
  exit 0
fi

pick_builder
B=("$builder")
base="" slim=""
if $from_archive; then
  make_base_tarballs
  import_bases ""
  base="$base_repo:12"
  slim="$base_repo:12-slim"
fi
build_image "$base" "$slim"
echo "image: $tag"
echo "size:  $(size_of "$tag")"

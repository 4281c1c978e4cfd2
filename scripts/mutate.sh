#!/usr/bin/env bash
# Mutation testing of the verifiers: do the verifier tests notice when the
# code they test is wrong? Each mutant in scripts/mutants.txt replaces one
# exact snippet of a file under verifiers/ (a flipped comparison, a dropped
# condition, an early pass, an off-by-one on a bound, ...). The tool copies
# the parts of the tree the verifier tests need to a temporary directory
# (the working tree is never touched), builds them once, then for each
# mutant applies it to the copy, rebuilds only the verifier tests and runs
# them (ctest -R '^vfy_test_'). A mutant is killed when a test fails (or times
# out); it survives when every test still passes.
#
#   scripts/mutate.sh                    every mutant
#   scripts/mutate.sh ID...              only these mutants
#   scripts/mutate.sh --list             the mutants, one per line
#   scripts/mutate.sh --check            only check that every snippet matches the code
#   MUTATE_KEEP=1 scripts/mutate.sh ...  keep the temporary copy (path printed)
#   MUTATE_TIMEOUT=s (default 120)       time limit of one test run (a mutant may loop)
#   MUTATE_JOBS=n (default 2)            parallel build and test jobs
#
# Prints one line per mutant and the summary `killed K of N`, naming the
# survivors. Exit 0 when every mutant is killed or is listed as equivalent
# (with its reason) in the data file; 1 when another mutant survives; 2 on a
# bad data file (a snippet that is missing or not unique, a mutant that does
# not compile) or when the unmutated tests fail.
#
# Data file format (scripts/mutants.txt): blocks separated by blank lines,
# `#` lines are comments. Each block:
#   id: short-name             unique
#   file: verifiers/x.c        relative to the repository
#   from: exact original text  one line; must occur exactly once in the file
#   to: replacement text       one line (may be empty)
#   equivalent: why            optional: the mutant cannot change behaviour
set -euo pipefail

# Everything is in main(): bash reads a function whole before running it,
# so editing this file during a run does not break the run.
main() {
  here=$(cd "$(dirname "$0")/.." && pwd)
  data=${MUTANTS_FILE:-$here/scripts/mutants.txt}
  jobs=${MUTATE_JOBS:-2}
  tests_re='^vfy_test_'

  ids=() files=() froms=() tos=() equivs=()

  # Parse the data file into the arrays above.
  parse() {
    local line key val id="" file="" from="" to="" equiv="" have_to=0 n=0 lineno=0
    flush() {
      if [ -n "$id$file$from" ]; then
        if [ -z "$id" ] || [ -z "$file" ] || [ -z "$from" ] || [ "$have_to" = 0 ]; then
          echo "$data:$lineno: mutant '${id:-?}' needs id, file, from and to" >&2
          exit 2
        fi
        ids+=("$id") files+=("$file") froms+=("$from") tos+=("$to") equivs+=("$equiv")
      fi
      id="" file="" from="" to="" equiv="" have_to=0
    }
    while IFS= read -r line || [ -n "$line" ]; do
      lineno=$((lineno + 1))
      case "$line" in
        '#'*) continue ;;
        '') flush; continue ;;
      esac
      key=${line%%:*}
      val=${line#*:}
      val=${val# }
      case "$key" in
        id) id=$val ;;
        file)
          file=$val
          case "$file" in
            verifiers/*) ;;
            *) echo "$data:$lineno: mutants apply to verifiers/ only" >&2; exit 2 ;;
          esac ;;
        from) from=$val ;;
        to) to=$val; have_to=1 ;;
        equivalent) equiv=$val ;;
        *) echo "$data:$lineno: unknown field '$key'" >&2; exit 2 ;;
      esac
    done <"$data"
    flush
    n=${#ids[@]}
    if [ "$n" = 0 ]; then
      echo "$data: no mutants" >&2
      exit 2
    fi
  }

  parse "$@"
  if [ "${1:-}" = "--list" ]; then
    for i in "${!ids[@]}"; do
      printf '%-28s %s%s\n' "${ids[$i]}" "${files[$i]}" "${equivs[$i]:+  (equivalent)}"
    done
    exit 0
  fi

  # Which mutants to run.
  sel=()
  check_only=0
  if [ "${1:-}" = "--check" ]; then
    check_only=1
    shift
  fi
  if [ $# -gt 0 ]; then
    for want in "$@"; do
      found=0
      for i in "${!ids[@]}"; do
        if [ "${ids[$i]}" = "$want" ]; then sel+=("$i"); found=1; fi
      done
      [ "$found" = 1 ] || { echo "mutate.sh: no mutant '$want' (see --list)" >&2; exit 2; }
    done
  else
    sel=("${!ids[@]}")
  fi

  # Count the occurrences of $FROM in a file (exact text).
  occurrences() {
    FROM=$2 perl -0777 -ne '$n = 0; $p = 0;
      while (($p = index($_, $ENV{FROM}, $p)) >= 0) { $n++; $p += length($ENV{FROM}) }
      print $n' "$1"
  }

  # Replace the one occurrence of $FROM by $TO in a file.
  apply() {
    FROM=$2 TO=$3 perl -0777 -i -pe 'my $p = index($_, $ENV{FROM});
      substr($_, $p, length($ENV{FROM})) = $ENV{TO} if $p >= 0' "$1"
  }

  # Every snippet must exist exactly once: a mutant that no longer matches the
  # code would silently test nothing.
  bad=0
  for i in "${sel[@]}"; do
    f=$here/${files[$i]}
    if [ ! -f "$f" ]; then
      echo "mutant ${ids[$i]}: no file ${files[$i]}" >&2
      bad=1
      continue
    fi
    n=$(occurrences "$f" "${froms[$i]}")
    if [ "$n" != 1 ]; then
      echo "mutant ${ids[$i]}: snippet found $n times in ${files[$i]} (must be exactly once): ${froms[$i]}" >&2
      bad=1
    fi
  done
  [ "$bad" = 0 ] || exit 2
  if [ "$check_only" = 1 ]; then
    echo "${#sel[@]} mutants match the code"
    exit 0
  fi

  tmp=$(mktemp -d "${TMPDIR:-/tmp}/faultline-mutate.XXXXXX")
  # shellcheck disable=SC2317 # run by the EXIT trap
  cleanup() {
    if [ -n "${MUTATE_KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
  }
  trap cleanup EXIT

  # The copy: only what the verifier tests build from.
  src=$tmp/src
  mkdir -p "$src/tests"
  cp -a "$here/CMakeLists.txt" "$here/include" "$here/lib" "$here/history" "$here/verifiers" "$src/"
  if [ -d "$here/cmake" ]; then cp -a "$here/cmake" "$src/"; fi
  find "$here/tests" -maxdepth 1 -type f -exec cp -a {} "$src/tests/" \;
  cp -a "$here/tests/support" "$here/tests/verifiers" "$src/tests/"
  cp -a "$src/verifiers" "$tmp/orig" # what each mutated file is put back from
  build=$tmp/build

  started=$(date +%s)
  echo "== building the unmutated copy in $tmp"
  cmake -S "$src" -B "$build" -DFAULTLINE_COMPONENTS="lib;history;verifiers" \
    -DFAULTLINE_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$tmp/configure.log" 2>&1 ||
    { cat "$tmp/configure.log" >&2; exit 2; }
  cmake --build "$build" -j"$jobs" >"$tmp/build.log" 2>&1 ||
    { tail -n 30 "$tmp/build.log" >&2; exit 2; }

  runtests() {
    # a mutant that makes a test loop is killed by the time limit (timeout
    # signals its whole process group, the tests included)
    (cd "$build" && timeout -k 10 "${MUTATE_TIMEOUT:-120}" ctest -R "$tests_re" -j"$jobs" >"$1" 2>&1)
  }
  if ! runtests "$tmp/baseline.log"; then
    cat "$tmp/baseline.log" >&2
    echo "mutate.sh: the verifier tests fail without any mutant" >&2
    exit 2
  fi

  killed=0 total=0 survivors=() unexpected=0 broken=()
  prev=""
  for i in "${sel[@]}"; do
    id=${ids[$i]} rel=${files[$i]}
    total=$((total + 1))
    # Put back the file the previous mutant changed (a fresh mtime rebuilds it).
    if [ -n "$prev" ]; then cat "$tmp/orig/${prev#verifiers/}" >"$src/$prev"; fi
    apply "$src/$rel" "${froms[$i]}" "${tos[$i]}"
    prev=$rel
    if ! cmake --build "$build" -j"$jobs" >"$tmp/m.log" 2>&1; then
      printf 'broken    %-28s does not compile\n' "$id"
      broken+=("$id")
      continue
    fi
    if runtests "$tmp/t.log"; then
      if [ -n "${equivs[$i]}" ]; then
        printf 'survived  %-28s (equivalent: %s)\n' "$id" "${equivs[$i]}"
        survivors+=("$id (equivalent)")
      else
        printf 'SURVIVED  %-28s %s: %s -> %s\n' "$id" "$rel" "${froms[$i]}" "${tos[$i]}"
        survivors+=("$id")
        unexpected=$((unexpected + 1))
      fi
    else
      killed=$((killed + 1))
      by=$(sed -n 's/^ *[0-9]*\/[0-9]* Test *#[0-9]*: \([^ ]*\) .*\*\*\*.*/\1/p' "$tmp/t.log" |
        paste -sd, -)
      printf 'killed    %-28s by %s\n' "$id" "${by:-the time limit}"
    fi
  done

  elapsed=$(($(date +%s) - started))
  summary="killed $killed of $total"
  if [ ${#survivors[@]} -gt 0 ]; then
    summary+="; survived: $(printf '%s, ' "${survivors[@]}")"
    summary=${summary%, }
  fi
  echo "$summary (${elapsed}s)"
  if [ ${#broken[@]} -gt 0 ]; then
    echo "mutate.sh: mutants that do not compile (fix scripts/mutants.txt): ${broken[*]}" >&2
    exit 2
  fi
  [ "$unexpected" = 0 ]
}

main "$@"; exit $?

#!/usr/bin/env bash
# Builds and runs the libFuzzer targets in Fuzz/ (README "Fuzzing").
#
#   Scripts/fuzz.sh <target> [seconds] [-- libFuzzer flags...]   one target (default 60 s; 0: no time limit)
#   Scripts/fuzz.sh --all <seconds> [-- libFuzzer flags...]      every target, one after the other
#   Scripts/fuzz.sh --list                                        the target names
#
# e.g. `Scripts/fuzz.sh FuzzInflate 0 -- -runs=10000000`. The targets are declared in Package.swift
# only when WEBSOCKETS_FUZZ is set, and are built here with `-sanitize=fuzzer,address` (release)
# into .build-fuzz. Each run starts from a fresh copy of the committed seeds (Fuzz/Corpus/<target>,
# copied to .build-fuzz/corpus/<target>, which keeps what the run found), so the repository is
# never written to; crash inputs go to .build-fuzz/artifacts/<target>/ (emptied at the start of a
# run). Exits non-zero if a target crashed, broke an invariant, leaked, ran out of memory
# (-rss_limit_mb) or hung (-timeout). FUZZ_SANITIZE=fuzzer builds without AddressSanitizer (into
# .build-fuzz-noasan): about twice the executions per second for long runs; Swift's own checks
# (bounds, overflow, invariants) still stop the run, only C-level memory errors go unseen.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGETS=(FuzzConnectionCore FuzzClientHandshake FuzzServerHandshake FuzzPerMessageDeflate FuzzInflate FuzzWebSocketURL)
SANITIZE="${FUZZ_SANITIZE:-fuzzer,address}"
case "$SANITIZE" in
    fuzzer,address) SCRATCH="$ROOT/.build-fuzz" ;;
    fuzzer) SCRATCH="$ROOT/.build-fuzz-noasan" ;;
    *) echo "FUZZ_SANITIZE must be fuzzer,address (the default) or fuzzer" >&2; exit 2 ;;
esac

usage() { sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[[ $# -ge 1 ]] || usage
case "$1" in
    --list) printf '%s\n' "${TARGETS[@]}"; exit 0 ;;
    --all) [[ $# -ge 2 ]] || usage; SELECTED=("${TARGETS[@]}") ;;
    -h|--help) usage ;;
    *)
        [[ " ${TARGETS[*]} " == *" $1 "* ]] || { echo "unknown target $1 (see --list)" >&2; exit 2; }
        SELECTED=("$1") ;;
esac
shift
SECONDS_EACH=60
if [[ $# -ge 1 && $1 != "--" ]]; then SECONDS_EACH="$1"; shift; fi
[[ $SECONDS_EACH =~ ^[0-9]+$ ]] || usage
[[ $# -ge 1 && $1 == "--" ]] && shift
EXTRA=("$@")

command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
export WEBSOCKETS_FUZZ=1
# The Swift runtime's backtracer would otherwise take over a crash (and can stall for 30 s).
export SWIFT_BACKTRACE=enable=no

for target in "${SELECTED[@]}"; do
    echo "building $target"
    set +e
    swift build -c release --scratch-path "$SCRATCH" -Xswiftc -sanitize="$SANITIZE" --product "$target" 2>&1 \
        | grep -v -e "Cannot export local symbol '__asan_extra_spill_area'"  # a harmless gold + ASan notice
    built=${PIPESTATUS[0]}
    set -e
    [[ $built -eq 0 ]] || { echo "build of $target failed" >&2; exit 1; }
done

STATUS=0
SUMMARY=()
for target in "${SELECTED[@]}"; do
    corpus="$SCRATCH/corpus/$target"
    artifacts="$SCRATCH/artifacts/$target"
    log="$SCRATCH/logs/$target.log"
    rm -rf "$corpus" "$artifacts"
    mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
    cp Fuzz/Corpus/"$target"/* "$corpus"/
    flags=(-rss_limit_mb=1024 -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts/")
    [[ $SECONDS_EACH -gt 0 ]] && flags+=(-max_total_time="$SECONDS_EACH")
    echo "running $target for ${SECONDS_EACH}s (0: unlimited) ${EXTRA[*]:-}; log: $log"
    set +e
    "$SCRATCH/release/$target" "${flags[@]}" "${EXTRA[@]}" "$corpus" >"$log" 2>&1
    code=$?
    set -e
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
    line="$target: ${runs:-?} executions, ${speed:-?} exec/s, cov ${cov:-?} ft ${ft:-?}, corpus ${corp:-?}"
    if [[ $code -ne 0 ]]; then
        STATUS=1
        line+=", FAILED (exit $code)"
        echo "---- $target failed; end of $log:" >&2
        grep -v -e '^INFO:' -e '^#[0-9]' "$log" | tail -40 >&2
        for crash in "$artifacts"/*; do
            [[ -e $crash ]] || continue
            echo "reproduce: FUZZ_VERBOSE=1 SWIFT_BACKTRACE=enable=no $SCRATCH/release/$target $crash" >&2
        done
    else
        line+=", no crash"
    fi
    echo "$line"
    SUMMARY+=("$line")
done

echo
echo "==== fuzzing summary ===="
printf '%s\n' "${SUMMARY[@]}"
exit "$STATUS"

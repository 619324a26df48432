#!/usr/bin/env bash
# Bounded fuzzing (CI): runs every libFuzzer binary of a `fuzz` build for SECONDS each on its
# corpus, with a memory bound, and fails at the first crash, leak, sanitizer report, timeout or
# allocation over the bound. The corpus grows in a scratch copy (the committed one is not changed);
# a crashing input is copied to tests/fuzz/crashes/<target>/ (commit it with the fix: it then
# replays in every CI build). Prints one line per target: executions, cov, ft.
# usage: tests/fuzz/run_fuzz.sh BUILD_DIR [SECONDS=20] [TARGET...]
#   Environment: FUZZ_JOBS (default 1), FUZZ_EXTRA (more libFuzzer flags), FUZZ_KEEP_CORPUS=DIR
#   (keep the grown corpora there), FUZZ_LOG_DIR (keep the logs).
set -uo pipefail
build=${1:?usage: run_fuzz.sh BUILD_DIR [SECONDS] [TARGET...]}
secs=${2:-20}
shift $(($# > 1 ? 2 : 1))
here=$(cd "$(dirname "$0")" && pwd)
bin=$build/bin
[ -d "$bin" ] || bin=$build/tests/fuzz
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for d in "$here"/corpus/*/; do targets+=("$(basename "$d")"); done
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
logs=${FUZZ_LOG_DIR:-$scratch/logs}
mkdir -p "$logs"
status=0
printf '%-20s %12s %8s %8s %8s\n' target executions exec/s cov ft
for t in "${targets[@]}"; do
  exe=$bin/fuzz_$t
  if [ ! -x "$exe" ]; then echo "run_fuzz: $exe not built"; status=1; continue; fi
  work=$scratch/$t
  mkdir -p "$work/corpus" "$work/artifacts"
  cp -r "$here/corpus/$t/." "$work/corpus/"
  # a corpus grown by an earlier run (run_long.sh) continues from where it stopped
  [ -n "${FUZZ_KEEP_CORPUS:-}" ] && [ -d "$FUZZ_KEEP_CORPUS/$t" ] && cp -r "$FUZZ_KEEP_CORPUS/$t/." "$work/corpus/"
  dirs=("$work/corpus")
  [ -d "$here/crashes/$t" ] && dirs+=("$here/crashes/$t")
  # FUZZ_JOBS > 1: libFuzzer's fork mode (one merged corpus, one status line for all processes)
  parallel=""
  [ "${FUZZ_JOBS:-1}" -gt 1 ] && parallel="-fork=$FUZZ_JOBS"
  # -max_total_time bounds the run; -timeout: one input slower than 25 s is a finding (a hang);
  # -rss_limit_mb / -malloc_limit_mb: the memory bound (the whole process / one allocation).
  # shellcheck disable=SC2086
  HRNET_FUZZ_TMPDIR=$work ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$exe" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
      $parallel -print_final_stats=1 \
      -artifact_prefix="$work/artifacts/" ${FUZZ_EXTRA:-} "${dirs[@]}" > "$logs/$t.log" 2>&1
  rc=$?
  # libFuzzer's last status line: "#N  DONE   cov: C ft: F corp: ... exec/s: E ..."
  last=$(grep -E '^#[0-9]+' "$logs/$t.log" | tail -n 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -n 1)
  [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<< "$last")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logs/$t.log" | tail -n 1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
  printf '%-20s %12s %8s %8s %8s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}"
  if [ $rc -ne 0 ]; then
    status=1
    echo "run_fuzz: fuzz_$t FAILED (exit $rc); the end of its log:"
    tail -n 60 "$logs/$t.log"
    for a in "$work"/artifacts/*; do
      [ -f "$a" ] || continue
      mkdir -p "$here/crashes/$t"
      cp "$a" "$here/crashes/$t/"
      echo "run_fuzz: kept $here/crashes/$t/$(basename "$a") (fix the library, commit the file)"
    done
  fi
  if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then
    mkdir -p "$FUZZ_KEEP_CORPUS/$t"
    cp -r "$work/corpus/." "$FUZZ_KEEP_CORPUS/$t/"
  fi
done
exit $status

#!/usr/bin/env bash
# The front-end fuzzer (test/fuzz/FrontEndFuzzer.cpp): bytes through scanning,
# parsing, sema, lowering, the passes and the IR verifier, under ASan + UBSan.
#   scripts/fuzz.sh [SECONDS]   a long run (default 1800 s) into build-fuzz/fuzz/corpus;
#                               crashes land in build-fuzz/fuzz/artifacts/
#   scripts/fuzz.sh --smoke     the test command's deterministic run: every seed and
#                               regression input replayed, then a fixed number of
#                               executions with a fixed seed
# Seeds: every .bdl under examples/, stdlib/ and test/. Regression inputs (kept
# after a fix): test/fuzz/regressions/. Dictionary: test/fuzz/bdl.dict.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=long seconds=1800
case "${1:-}" in
  --smoke) mode=smoke ;;
  "") ;;
  *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS] | --smoke" >&2; exit 2 ;;
  *) seconds=$1 ;;
esac

cmake --preset fuzz >/dev/null
cmake --build build-fuzz --target bdl-fuzz-frontend
work=build-fuzz/fuzz
mkdir -p "$work/artifacts"
rm -rf "$work/seeds" && mkdir -p "$work/seeds"
find examples stdlib test -name '*.bdl' -not -path 'test/fuzz/*' -print0 |
  while IFS= read -r -d '' f; do cp "$f" "$work/seeds/$(echo "$f" | tr / _)"; done

# -timeout: an input that takes over 2 s is a hang, and a bug.
common=(-dict=test/fuzz/bdl.dict -timeout=2 -max_len=8192 -print_final_stats=1
        -artifact_prefix="$work/artifacts/")
if [[ $mode == smoke ]]; then
  # Deterministic, so that CI never fails by chance:
  #  - the seeds go in as a sorted list (-seed_inputs), not as a directory
  #    whose read order depends on the file system;
  #  - the units the run finds go to a fresh directory, never re-read
  #    (-reload=0);
  #  - address-space randomisation is off: the compiler's pointer-keyed hash
  #    maps probe differently at every address, which changes the coverage
  #    libFuzzer sees and so the inputs it goes on to make.
  # With the fixed seed the same commit then executes the same inputs.
  rm -rf "$work/smoke" && mkdir -p "$work/smoke"
  find "$work/seeds" test/fuzz/regressions -type f | LC_ALL=C sort | paste -sd, > "$work/seed-list"
  fixed_addresses=(setarch "$(uname -m)" -R)
  if ! "${fixed_addresses[@]}" true 2>/dev/null; then
    echo "fuzz.sh: cannot turn off address randomisation here (setarch -R);" \
         "the run's inputs will vary from run to run" >&2
    fixed_addresses=()
  fi
  "${fixed_addresses[@]}" build-fuzz/bin/bdl-fuzz-frontend "${common[@]}" -seed=1 -reload=0 \
    -runs="${BDL_FUZZ_RUNS:-60000}" -seed_inputs=@"$work/seed-list" "$work/smoke"
else
  mkdir -p "$work/corpus"
  # ANTLR keeps its prediction caches for the life of the process (one parse
  # per bdlc run, millions here): a long run's memory grows to about 1 GB in
  # 30 minutes without a leak, so the limit is above libFuzzer's 2 GB default.
  build-fuzz/bin/bdl-fuzz-frontend "${common[@]}" -max_total_time="$seconds" -rss_limit_mb=6144 \
    "$work/corpus" "$work/seeds" test/fuzz/regressions 2>&1 | tee "$work/fuzz.log"
fi

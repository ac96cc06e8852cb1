#!/usr/bin/env bash
# Builds every fuzz target once and runs each for SECONDS (default 20), as
# many at a time as there are cores. Fails if any target finds a crash (a panic,
# an overflow: debug assertions are on), a timeout or an out-of-memory, and
# prints the input that did it and how to reproduce it.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
#
# Installs what it needs and is missing: the nightly toolchain pinned in
# rust-toolchain.toml here, and cargo-fuzz.
#
# Each target starts from its seed corpus (corpus/<target>/, in git) and
# from what earlier runs on this machine found (target/corpus/<target>/,
# not in git); new inputs go to the latter.

set -euo pipefail
cd "$(dirname "$0")"
dir="$PWD"

seconds="${1:-20}"
shift || true
log() { echo "tests/fuzz/run.sh: $*" >&2; }
started=$(date +%s)

toolchain="$(sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)"
if ! rustup run "$toolchain" rustfmt --version >/dev/null 2>&1; then
  log "installing the $toolchain toolchain"
  rustup toolchain install "$toolchain" --profile minimal --component rustfmt
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz"
  # From the repository's root: built with its pinned stable toolchain.
  (cd ../.. && cargo install --locked cargo-fuzz)
fi

# Not `cargo fmt`: it would follow the manifest target's `#[path]` module
# into the CLI's sources.
rustfmt --check --edition 2024 --config skip_children=true,unstable_features=true \
  src/*.rs fuzz_targets/*.rs

# No sanitizer: the code under test is safe Rust (the workspace denies
# unsafe_code), where AddressSanitizer finds nothing and costs build time and
# half the executions. Debug assertions on, so integer overflow panics.
flags=(--fuzz-dir "$dir" --target-dir "$dir/target" --sanitizer none --debug-assertions)
# libFuzzer: an input slower than 10 s is a failure (a hang is a bug in a
# parser too); final statistics for the summary below.
libfuzzer=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)

targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list --fuzz-dir "$dir")
fi

cargo fuzz build "${flags[@]}"
log "installed and built in $(( $(date +%s) - started ))s"

logs="$dir/target/logs"
mkdir -p "$logs"
run() {
  local target=$1
  local extra=()
  # Words libFuzzer splices into inputs, for targets whose syntax it would
  # take long to guess (dict/<target>.dict).
  [ -f "dict/$target.dict" ] && extra+=(-dict="dict/$target.dict")
  mkdir -p "target/corpus/$target" "artifacts/$target"
  if cargo fuzz run "${flags[@]}" "$target" "target/corpus/$target" "corpus/$target" \
    -- "${libfuzzer[@]}" "${extra[@]}" >"$logs/$target.log" 2>&1; then
    echo 0 >"$logs/$target.status"
  else
    echo 1 >"$logs/$target.status"
  fi
}

jobs="$(nproc)"
for target in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  rm -f "$logs/$target.status"
  run "$target" &
done
wait

failed=()
for target in "${targets[@]}"; do
  out="$logs/$target.log"
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out" | tail -n 1)
  corpus=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' "$out" | tail -n 1)
  if [ "$(cat "$logs/$target.status" 2>/dev/null)" = 0 ]; then
    echo "fuzz $target: ok, ${runs:-?} runs (${rate:-?}/s) in ${seconds}s, corpus ${corpus:-?} inputs"
    continue
  fi
  failed+=("$target")
  echo "fuzz $target: FAILED after ${runs:-?} runs (whole log: $out):"
  # The panic and its message, else libFuzzer's own verdict (timeout, oom).
  { sed -n '/panicked at/,/^stack backtrace:/p' "$out" | grep -v '^stack backtrace:' \
    || true; grep -E '^(==[0-9]+== ERROR|SUMMARY): ' "$out" || true; } | head -n 40 | sed 's/^/    /'
  artifact=$(sed -n 's/.*Test unit written to //p' "$out" | tail -n 1)
  if [ -n "$artifact" ]; then
    echo "fuzz $target: the input: $artifact"
    echo "fuzz $target: reproduce: (cd tests/fuzz && cargo fuzz run --sanitizer none --debug-assertions $target $artifact)"
  fi
done

log "done in $(( $(date +%s) - started ))s"
if [ "${#failed[@]}" -gt 0 ]; then
  log "failed: ${failed[*]}"
  exit 1
fi

#!/usr/bin/env bash
# CI's fuzzing step: builds every target of this directory on the stable toolchain, seeds each
# corpus from the project's own fixtures (tests/fixtures), runs each target for a bounded time,
# and fails when a target finds a crash, printing the crashing input as base64.
#
#   bash fuzz/ci.sh                    # FUZZ_SECONDS=40 per target by default
#
# cargo-fuzz passes nightly-only flags (-Z...) to cargo and rustc; RUSTC_BOOTSTRAP=1 lets the
# stable toolchain accept them, so no nightly toolchain is needed. `-s none` leaves out
# AddressSanitizer: the SDK is safe Rust, where what fuzzing finds is a panic, an overflow, a
# hang or runaway memory, all caught without it.
# `-a` keeps debug assertions and overflow checks on in the optimized build.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${FUZZ_SECONDS:-40}"
flags=(-O -a -s none)
export RUSTC_BOOTSTRAP=1
fixtures=../tests/fixtures

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
cargo fuzz --version

cargo fuzz build "${flags[@]}"

# --- seeds, from tests/fixtures only ----------------------------------------------------------
seed() { mkdir -p "corpus/$1"; cat > "corpus/$1/seed-$2"; }

# A raw DEFLATE stream holding $1 as one stored block (what a sealed result decrypts to).
stored_deflate() {
  local size byte
  size=$(wc -c < "$1")
  for byte in 1 $((size & 255)) $((size >> 8)) $((~size & 255)) $(((~size >> 8) & 255)); do
    printf "\\$(printf '%03o' "$byte")"
  done
  cat "$1"
}

for file in "$fixtures"/events/*.json "$fixtures"/sealed/event.json "$fixtures"/webhook/event.json \
            "$fixtures"/errors/*.json; do
  name=$(basename "$(dirname "$file")")-$(basename "$file")
  seed event_json "$name" < "$file"
  stored_deflate "$file" | seed unseal_plaintext "$name"
done
for file in "$fixtures"/sealed/*.sealed.b64; do
  name=$(basename "$file" .b64)
  seed unseal "$name.b64" < "$file"
  base64 -d < "$file" | seed unseal "$name" || true
done
# verify reads `header \n secret \n body`.
header=$(tr -d '\n' < "$fixtures"/webhook/event.json.signature)
secret=$(tr -d '\n' < "$fixtures"/webhook/secret.txt)
{ printf '%s\n%s\n' "$header" "$secret"; cat "$fixtures"/webhook/event.json; } | seed verify signed
{ printf 'v2=x, %s,v1=00\n%s\n' "$header" "$secret"; cat "$fixtures"/webhook/event.json; } \
  | seed verify rotated
{ printf '%s\n%s\n' "$header" "$secret"; cat "$fixtures"/events/minimal_event.json; } \
  | seed verify mismatch

# --- runs -------------------------------------------------------------------------------------
mkdir -p target/ci-logs
failed=()
for target in $(cargo fuzz list); do
  log="target/ci-logs/$target.log"
  rm -rf "artifacts/$target"
  echo "fuzzing $target for ${seconds}s (corpus: $(ls "corpus/$target" 2>/dev/null | wc -l) inputs)"
  if cargo fuzz run "${flags[@]}" "$target" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      > "$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "  $target: ${runs:-?} inputs, no crash"
  else
    failed+=("$target")
    echo "  $target FAILED; the end of its log:"
    tail -n 60 "$log" | sed 's/^/    /'
    for artifact in "artifacts/$target"/*; do
      [ -f "$artifact" ] || continue
      echo "  crashing input $artifact ($(wc -c < "$artifact") bytes), base64:"
      base64 -w0 "$artifact"
      echo
      echo "  replay: cd fuzz && printf '%s' '<base64>' | base64 -d > crash && RUSTC_BOOTSTRAP=1 cargo fuzz run ${flags[*]} $target crash"
    done
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzzing found crashes in: ${failed[*]}"
  exit 1
fi
echo "fuzzing: every target ran ${seconds}s with no crash"

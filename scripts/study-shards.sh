#!/usr/bin/env bash
# The quick study as 3 shards per stage, each in its own process, merged and compared with a
# single-process run; then resume, and the errors that a broken set of shards must give without
# writing any output. Called by .ci/run (docs/cluster.md).
# Usage: scripts/study-shards.sh STUDY_BINARY REFERENCE_DIR (REFERENCE_DIR from `study --quick`)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:?usage: study-shards.sh STUDY_BINARY REFERENCE_DIR}
ref=${2:?usage: study-shards.sh STUDY_BINARY REFERENCE_DIR}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=$work/sharded

for stage in tuning refinement report; do
  pids=()
  for k in 0 1 2; do
    "$bin" --quick --threads 1 --out "$out" --shard "$k/3" --phase "$stage" \
      2>"$work/$stage-$k.log" &
    pids+=($!)
  done
  for k in 0 1 2; do
    wait "${pids[$k]}" || { echo "shard $k/3 of $stage failed:"; tail -5 "$work/$stage-$k.log"; exit 1; }
  done
done
"$bin" --quick --merge "$out" 2>"$work/merge.log" || { tail -5 "$work/merge.log"; exit 1; }
"$here/compare-study.sh" "$ref" "$out"

# Resume: a complete shard does nothing; a corrupt one is detected and rerun.
shard="$out/shards/report-001-of-003.json"
before=$(cksum < "$shard")
"$bin" --quick --out "$out" --shard 1/3 --phase report 2>"$work/again.log"
grep -q "nothing to do" "$work/again.log" || { echo "a complete shard ran again"; exit 1; }
test "$(cksum < "$shard")" = "$before" || { echo "a complete shard was rewritten"; exit 1; }
printf 'x' >>"$shard"
"$bin" --quick --out "$out" --shard 1/3 --phase report 2>"$work/rerun.log"
grep -q "truncated or extended.*rerunning" "$work/rerun.log" || { echo "a corrupt shard was not rerun"; exit 1; }
"$bin" --quick --merge "$out" --out "$work/again" 2>/dev/null
"$here/compare-study.sh" "$ref" "$work/again"

# Each broken case: a non-zero exit, the expected message, and no output at all.
expect_error() {
  local pattern=$1 outdir=$2
  shift 2
  if "$@" 2>"$work/err.log"; then echo "no error for: $*"; exit 1; fi
  grep -q "$pattern" "$work/err.log" || { echo "expected /$pattern/ from: $*"; cat "$work/err.log"; exit 1; }
  test ! -e "$outdir" || { echo "partial output in $outdir after: $*"; exit 1; }
  echo "refused as expected: $(grep error "$work/err.log")"
}
expect_error "out of range" "$work/none" \
  "$bin" --quick --out "$work/none" --shard 3/3 --phase tuning
broken() { rm -rf "$work/broken"; mkdir -p "$work/broken"; cp -r "$out/shards" "$work/broken/"; }
broken
rm "$work/broken/shards/refinement-002-of-003.json" "$work/broken/shards"/report-*
expect_error "refinement stage is incomplete: shard(s) 2/3 missing" "$work/merged" \
  "$bin" --quick --merge "$work/broken" --out "$work/merged"
expect_error "refinement stage is incomplete" "$work/broken/shards/report-000-of-003.json" \
  "$bin" --quick --out "$work/broken" --shard 0/3 --phase report
broken
cp "$work/broken/shards/tuning-001-of-003.json" "$work/broken/shards/tuning-1-copy.json"
expect_error "shard 1/3 of the tuning stage is there twice" "$work/merged" \
  "$bin" --quick --merge "$work/broken" --out "$work/merged"
broken
"$bin" --quick --seeds 3 --threads 1 --out "$work/foreign" --shard 0/3 --phase tuning 2>/dev/null
cp "$work/foreign/shards/tuning-000-of-003.json" "$work/broken/shards/"
expect_error "belongs to another plan" "$work/merged" \
  "$bin" --quick --merge "$work/broken" --out "$work/merged"
echo "study-shards: sharded, resumed and refused as expected"

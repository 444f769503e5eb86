#!/usr/bin/env bash
# Compares two study output folders: every file of REF but timing.json (the only file with wall
# times) must exist in OUT with the same bytes, and OUT must hold no other output file.
# Usage: scripts/compare-study.sh REF OUT
set -euo pipefail
ref=${1:?usage: compare-study.sh REF OUT}
out=${2:?usage: compare-study.sh REF OUT}
list() { (cd "$1" && find . -maxdepth 1 -type f ! -name timing.json | sort); }
if ! diff <(list "$ref") <(list "$out") >/dev/null; then
  echo "compare-study: the file lists of $ref and $out differ:"
  diff <(list "$ref") <(list "$out") || true
  exit 1
fi
n=0
while read -r f; do
  cmp -s "$ref/$f" "$out/$f" || { echo "compare-study: $f differs between $ref and $out"; exit 1; }
  n=$((n + 1))
done < <(list "$ref")
test -s "$out/timing.json" || { echo "compare-study: $out has no timing.json"; exit 1; }
echo "compare-study: $n files identical (timing.json aside)"

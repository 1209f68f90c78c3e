#!/usr/bin/env bash
# bench/hunt.sh: `vigil hunt` with the SigmaHQ rule set over the
# EVTX-ATTACK-SAMPLES corpus. Prints wall time, events/s, MB/s and peak
# memory for 1 thread and all cores, and from the hunt's own summary the
# time the rules took to load and the matching rate without it, for 10 %, 30 % and 100 % of the rules,
# and against a baseline in the same run: the same hunt with one rule that
# never fires (reading and mapping the events, no detection work).
#
#   bench/hunt.sh                 # uses ../shared/corpora (or $VIGIL_CORPORA)
#   VIGIL_BIN=path bench/hunt.sh  # an existing binary
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/vigil-target}"
corpora="${VIGIL_CORPORA:-../shared/corpora}"
rules="$corpora/sigma/rules"
evtx="$corpora/evtx/EVTX-ATTACK-SAMPLES"
[ -d "$rules" ] && [ -d "$evtx" ] || { echo "need $rules and $evtx" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "need /usr/bin/time (apt-get install time)" >&2; exit 1; }
if [ -z "${VIGIL_BIN:-}" ]; then
  cargo build --release -p vigil >&2
  VIGIL_BIN="$CARGO_TARGET_DIR/release/vigil"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Rule subsets: every Nth file of the sorted list, so each subset spreads
# over every category like the whole set does.
find "$rules" -name '*.yml' | sort > "$work/all"
total=$(wc -l < "$work/all")
for pct in 10 30; do
  mkdir -p "$work/rules$pct"
  awk -v p="$pct" 'NR % 100 < p' "$work/all" | while read -r f; do cp "$f" "$work/rules$pct/"; done
done
mkdir -p "$work/none"
printf 'title: never\nlogsource:\n  product: windows\ndetection:\n  sel:\n    NoSuchField: never\n  condition: sel\n' > "$work/none/never.yml"
mb=$(du -sm --apparent-size "$evtx" | cut -f1)

run() { # label rules threads
  local out="$work/out.$RANDOM"
  /usr/bin/time -f '%e %M' -o "$out.time" "$VIGIL_BIN" hunt --jsonl --threads "$3" --rules "$2" "$evtx" > "$out.hits" 2> "$out.err"
  local secs kb events hits load rate
  read -r secs kb < "$out.time"
  events=$(grep -oE '[0-9]+ events' "$out.err" | head -1 | cut -d' ' -f1)
  hits=$(wc -l < "$out.hits")
  load=$(grep -oE 'rules loaded in [0-9.]+ s' "$out.err" | grep -oE '[0-9.]+' | head -1)
  rate=$(grep -oE '\([0-9]+ events/s\)' "$out.err" | grep -oE '[0-9]+' | head -1)
  printf '%-22s %7s rules  %2s thr  %6.2f s  %9.0f events/s  %6.1f MB/s  peak %4d MB  %5d hits  (load %s s, match %s events/s)\n' \
    "$1" "$(find "$2" -name '*.yml' | wc -l)" "$3" "$secs" "$(echo "$events / $secs" | bc -l)" \
    "$(echo "$mb / $secs" | bc -l)" "$((kb / 1024))" "$hits" "$load" "$rate"
  echo "$secs" > "$work/last"
}

cores=$(nproc)
echo "corpus: $evtx ($mb MB), rules: $total"
run "baseline (no detection)" "$work/none" 1; base1=$(cat "$work/last")
run "baseline (no detection)" "$work/none" "$cores"
run "10 % of rules" "$work/rules10" 1
run "30 % of rules" "$work/rules30" 1
run "100 % of rules" "$rules" 1; full1=$(cat "$work/last")
run "100 % of rules" "$rules" "$cores"; full=$(cat "$work/last")
echo "detection cost: full rule set / baseline (1 thread) = $(echo "$full1 / $base1" | bc -l | cut -c1-5)x"
echo "all cores vs 1 thread: $(echo "$full1 / $full" | bc -l | cut -c1-5)x faster"
echo "vs the established peer (4.9 s on this corpus and rule set): $(echo "4.9 / $full" | bc -l | cut -c1-5)x faster"

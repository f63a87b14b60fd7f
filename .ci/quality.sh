#!/usr/bin/env bash
# Regenerates the quality table (docs/quality.md; the README shows its key columns). For each piece in ../shared/midi with at least 16
# bars: train on bars 1:12 (default preset), generate 32 bars with 5 seeds, and evaluate against
# bars 1:12 four rows, means over their files:
#   model       the three-stage model's 5 variations;
#   clip        the clip itself, bars 1:12 as they are (the figures the targets call the
#               clip's: note lengths and re-strikes across bar lines included);
#   later bars  the piece's own bars 13 to the end (the composer: a yardstick);
#   shuffle     5 per-track shuffles of bars 1:12, seeds 0-4 (the same material, uncoordinated:
#               noise, a floor).
# A claim of progress is made against both reference rows.
# Usage: .ci/quality.sh [--only SUBSTRING] [--single-stage] [--train-seed N] [extra generate options]
#   --only SUBSTRING  only the pieces whose file name contains it (repeatable)
#   --single-stage    also the single-stage ablation (a fourth row)
#   --train-seed N    train with seed N (default 0): the figures move with it (docs/quality.md)
set -euo pipefail
cd "$(dirname "$0")/.."
only=(); single=0; gen=(); train_seed=0
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only+=("$2"); shift 2 ;;
    --single-stage) single=1; shift ;;
    --train-seed) train_seed="$2"; shift 2 ;;
    *) gen+=("$1"); shift ;;
  esac
done
cargo build --release --quiet --bin sintra
S=target/release/sintra
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One markdown row from `sintra eval --json` on stdin: the mean of its files.
row() {
  python3 -c '
import json, sys
m = json.load(sys.stdin)["mean"]; s = m["stats"]
cells = [sys.argv[1], sys.argv[2],
  "%.3f" % m["overlap"], "%.3f" % m["kl"], "%.3f" % m["copied_bars"], "%d" % m["longest_copy"],
  "%.2f" % m["bar_match"], "%.2f" % m["near_copies"], "%.2f" % m["shifted_match"], "%.2f" % m["shifted_copies"],
  "%.2f" % s["harmonic_fit"], "%.2f" % m["chord_fit"],
  "%.2f" % s["short_notes"], "%.2f" % s["note_length"], "%.2f" % m["onset_density_ratio"],
  "%.2f" % s["restrikes"], "%.1f" % s["velocity_spread"],
  "%.2f" % s["groove_consistency"], "%.3f" % s["empty_beat_rate"], "%.2f" % s["polyphony"],
  "%.3f" % m["beat_js"], "%.2f" % s["off_grid"],
  "%.2f" % s["step_share"], "%.2f" % s["leap_share"], "%.3f" % s["parallels"], "%.3f" % s["phrase_ends"]]
print("| " + " | ".join(cells) + " |")' "$1" "$2"
}

echo "| piece | row | overlap | KL | copied | run | match | near | shift | s-near | harm | chords | short | length | onsets | restrk | vel-sd | groove | empty | poly | beat-js | off | step | leap | par | phr |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for f in ../shared/midi/*.mid; do
  name=$(basename "$f" .mid)
  if [ ${#only[@]} -gt 0 ]; then
    keep=0; for o in "${only[@]}"; do [[ "$name" == *"$o"* ]] && keep=1; done
    [ $keep = 1 ] || continue
  fi
  bars=$($S inspect "$f" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["bars"])' 2>/dev/null) || continue
  [ "$bars" -ge 16 ] || continue
  kinds=(pyramid); [ $single = 1 ] && kinds+=(single)
  for kind in "${kinds[@]}"; do
    flag=(); label="model"
    [ "$kind" = single ] && { flag=(--single-stage); label="single-stage"; }
    $S train "$f" --bars 1:12 --threads 2 --seed "$train_seed" "${flag[@]}" --out "$work/$name-$kind.sintra" 2>/dev/null >/dev/null
    $S generate "$work/$name-$kind.sintra" --bars 32 --variations 5 --out "$work/$name-$kind.mid" \
      "${gen[@]}" 2>/dev/null >/dev/null
    $S eval "$f" "$work/$name-$kind"-*.mid --ref-bars 1:12 --json | row "$name" "$label"
  done
  $S eval "$f" "$f" --ref-bars 1:12 --gen-bars 1:12 --json | row "" "clip"
  $S eval "$f" "$f" --ref-bars 1:12 --gen-bars "13:$bars" --json | row "" "later bars"
  $S eval "$f" --ref-bars 1:12 --shuffle 5 --json | row "" "shuffle"
done

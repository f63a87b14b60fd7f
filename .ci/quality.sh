#!/usr/bin/env bash
# Regenerates the README's quality table: for each chorale in ../shared/midi, train on bars
# 1:12, generate 32 bars with 5 seeds, and evaluate the three-stage model, the single-stage
# ablation, and the clip's own later bars as a yardstick. Not part of CI (about 3 minutes).
# Usage: .ci/quality.sh [extra generate options, e.g. --temperature 3]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin sintra
S=target/release/sintra
work=$(mktemp -d)
for f in ../shared/midi/bwv{158,227,282,349}*.mid; do
  name=$(basename "$f" .mid)
  bars=$($S inspect "$f" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["bars"])')
  for kind in pyramid single; do
    flag=""; [ "$kind" = single ] && flag="--single-stage"
    $S train "$f" --bars 1:12 --threads 2 $flag --out "$work/$name-$kind.sintra" 2>/dev/null
    $S generate "$work/$name-$kind.sintra" --variations 5 --out "$work/$name-$kind.mid" "$@" 2>/dev/null
    echo "$name $kind $($S eval "$f" "$work/$name-$kind"-*.mid --ref-bars 1:12 | tail -1)"
  done
  echo "$name later-bars $($S eval "$f" "$f" --ref-bars 1:12 --gen-bars "13:$bars" | tail -1)"
done
rm -rf "$work"

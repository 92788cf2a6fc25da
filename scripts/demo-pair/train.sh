#!/usr/bin/env bash
# Trains the demo pair (Wesnoth summer ↔ winter terrain) with `stripes train` on the folders that
# fetch-data.sh wrote. Settings are the ones the committed demo used; each can be overridden from
# the environment, e.g. ITERS=200 scripts/demo-pair/train.sh for a quick look.
#
# It runs on one core at low priority (the demo was trained on a shared 2-core machine):
# CORES=0 pins it to one core, NICE=0 drops the low priority. STRIPES overrides the command.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${WORK:-$ROOT/.demo-data}
DATA=${DATA:-$WORK/data}
OUT=${OUT:-$WORK/run}

PRESET=${PRESET:-small}
LOAD_SIZE=${LOAD_SIZE:-128}
CROP_SIZE=${CROP_SIZE:-64}
ITERS=${ITERS:-1500}
SAVE_EVERY=${SAVE_EVERY:-100}
SEED=${SEED:-7}
BACKEND=${BACKEND:-wasm}
CORES=${CORES:-}
NICE=${NICE:-10}

for d in trainA trainB; do
  [ -d "$DATA/$d" ] || { echo "train.sh: $DATA/$d not found (run scripts/demo-pair/fetch-data.sh first)" >&2; exit 2; }
done

pin=()
if command -v taskset >/dev/null && [ -n "$CORES" ]; then pin=(taskset -c "$CORES"); fi

cd "$ROOT"
echo "train.sh: $(date -u +%FT%TZ) preset=$PRESET load=$LOAD_SIZE crop=$CROP_SIZE iters=$ITERS save-every=$SAVE_EVERY seed=$SEED backend=$BACKEND cores=${CORES:-all} out=$OUT"
exec nice -n "$NICE" "${pin[@]}" ${STRIPES:-node cli/bin.mjs} train \
  --a "$DATA/trainA" --b "$DATA/trainB" --out "$OUT" \
  --preset "$PRESET" --load-size "$LOAD_SIZE" --crop-size "$CROP_SIZE" \
  --iters "$ITERS" --save-every "$SAVE_EVERY" --seed "$SEED" --backend "$BACKEND" "$@"

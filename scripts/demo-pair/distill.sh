#!/usr/bin/env bash
# Distils the demo pair's fast variant (docs/distill.md) with `stripes distill` from the committed
# checkpoint (the teacher) on the folders fetch-data.sh wrote. Settings are the committed run's;
# each can be overridden from the environment. Low priority by default (NICE=0 drops it).
# Then: copy $OUT/manifest.json and $OUT/shards/* into demo/checkpoint/ (the teacher's shards are
# unchanged; only the students' are new) and measure with measure-fast.ts.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${WORK:-$ROOT/.demo-data}
DATA=${DATA:-$WORK/data}
OUT=${OUT:-$WORK/distill}

LOAD_SIZE=${LOAD_SIZE:-128}
CROP_SIZE=${CROP_SIZE:-64}
ITERATIONS=${ITERATIONS:-1600}
SAVE_EVERY=${SAVE_EVERY:-100}
SEED=${SEED:-7}
NICE=${NICE:-10}

for d in trainA trainB; do
  [ -d "$DATA/$d" ] || { echo "distill.sh: $DATA/$d not found (run scripts/demo-pair/fetch-data.sh first)" >&2; exit 2; }
done
cd "$ROOT"
echo "distill.sh: $(date -u +%FT%TZ) load=$LOAD_SIZE crop=$CROP_SIZE iterations=$ITERATIONS seed=$SEED out=$OUT"
exec nice -n "$NICE" ${STRIPES:-node cli/bin.mjs} distill --model demo/checkpoint \
  --a "$DATA/trainA" --b "$DATA/trainB" --out "$OUT" \
  --load-size "$LOAD_SIZE" --crop-size "$CROP_SIZE" --iterations "$ITERATIONS" --save-every "$SAVE_EVERY" --seed "$SEED" "$@"

#!/usr/bin/env bash
# Copies a finished (or stopped) demo training run into demo/ for committing:
#   demo/checkpoint/   manifest.json + shards/ (what translate and the browser load; no optimizer state)
#   demo/report/       the run's visual report (index.html + report/*.png)
#   demo/samples/      held-out images before and after translation, both directions
# demo/pair.json is written by hand (metadata and provenance) and is left alone.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${WORK:-$ROOT/.demo-data}
DATA=${DATA:-$WORK/data}
RUN=${RUN:-$WORK/run}
DEMO=${DEMO:-$ROOT/demo}
SAMPLES=${SAMPLES:-3}
PYTHON=${PYTHON:-/usr/bin/python3}

[ -f "$RUN/manifest.json" ] || { echo "publish.sh: $RUN/manifest.json not found (train first)" >&2; exit 2; }
for d in testA testB; do
  [ -d "$DATA/$d" ] || { echo "publish.sh: $DATA/$d not found (run fetch-data.sh)" >&2; exit 2; }
done

rm -rf "$DEMO/checkpoint" "$DEMO/report" "$DEMO/samples"
mkdir -p "$DEMO/checkpoint" "$DEMO/report" "$DEMO/samples"
cp "$RUN/manifest.json" "$DEMO/checkpoint/"
cp -r "$RUN/shards" "$DEMO/checkpoint/"
cp "$RUN/index.html" "$DEMO/report/"
[ -d "$RUN/report" ] && cp -r "$RUN/report" "$DEMO/report/"
# The report names the data folders by absolute path; keep the committed copy machine-neutral.
sed -i "s|$ROOT/||g" "$DEMO/report/index.html"
if [ -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  node "$ROOT/scripts/demo-pair/report-shot.mjs" "$DEMO/report/index.html" "$DEMO/report/charts.png" ||
    echo "publish.sh: could not take the report screenshot; the HTML report is there" >&2
fi

cd "$ROOT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
translate() { # direction, source folder, prefix
  local i=0
  for f in $(ls "$2" | sort | head -n "$SAMPLES"); do
    i=$((i + 1))
    cp "$2/$f" "$DEMO/samples/$3-$i-before.png"
    node cli/bin.mjs translate --model "$DEMO/checkpoint" --direction "$1" --backend wasm \
      --in "$2/$f" --out "$DEMO/samples/$3-$i-after.png"
  done
}
translate AtoB "$DATA/testA" summer-to-winter
translate BtoA "$DATA/testB" winter-to-summer

# One picture with every pair side by side, for the README and the closing note.
"$PYTHON" - "$DEMO/samples" <<'EOF'
import glob, os, sys
from PIL import Image
d = sys.argv[1]
rows = []
for prefix in ('summer-to-winter', 'winter-to-summer'):
    pairs = sorted(glob.glob(os.path.join(d, f'{prefix}-*-before.png')))
    rows.append([(p, p.replace('-before.png', '-after.png')) for p in pairs])
tiles = [[Image.open(b), Image.open(a)] for row in rows for b, a in row]
if not tiles:
    sys.exit(0)
w, h = tiles[0][0].size
gap = 8
cols = max(len(r) for r in rows)
sheet = Image.new('RGB', (cols * (2 * w + gap) - gap, len(rows) * (h + gap) - gap), 'white')
for r, row in enumerate(rows):
    for c, (b, a) in enumerate(row):
        x, y = c * (2 * w + gap), r * (h + gap)
        sheet.paste(Image.open(b).convert('RGB'), (x, y))
        sheet.paste(Image.open(a).convert('RGB'), (x + w, y))
sheet.save(os.path.join(d, 'overview.jpg'), quality=90)
EOF
du -sh "$DEMO/checkpoint" "$DEMO/report" "$DEMO/samples"

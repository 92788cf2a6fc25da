#!/usr/bin/env bash
# Fetches Battle for Wesnoth's data package from Debian and builds the demo pair's image folders:
#   $WORK/data/{trainA,trainB,testA,testB}   (A = summer terrain, B = winter terrain)
# The package is downloaded, not installed: only its terrain tiles are unpacked into $WORK.
#
#   scripts/demo-pair/fetch-data.sh            # WORK defaults to .demo-data in the repo root
#   WORK=/tmp/x scripts/demo-pair/fetch-data.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${WORK:-$ROOT/.demo-data}
PKG=wesnoth-1.16-data
# The version the committed demo was trained on (Debian 12 "bookworm"). Set PKG_VERSION= (empty)
# to take whatever the configured mirror has.
PKG_VERSION=${PKG_VERSION-1:1.16.9-1}
PYTHON=${PYTHON:-/usr/bin/python3}

command -v apt-get >/dev/null || { echo "fetch-data.sh: apt-get not found (a Debian or Ubuntu system is needed)" >&2; exit 2; }
"$PYTHON" -c 'import PIL' 2>/dev/null || { echo "fetch-data.sh: $PYTHON cannot import PIL (apt-get install python3-pil)" >&2; exit 2; }

mkdir -p "$WORK/pkg"
cd "$WORK/pkg"
if ! ls ${PKG}_*.deb >/dev/null 2>&1; then
  spec=$PKG${PKG_VERSION:+=$PKG_VERSION}
  apt-get download "$spec" || {
    echo "fetch-data.sh: apt-get download $spec failed (run apt-get update, or PKG_VERSION= for the mirror's version)" >&2
    exit 1
  }
fi
deb=$(ls ${PKG}_*.deb | head -n 1)
version=$(dpkg-deb -f "$deb" Version)
echo "using $deb (version $version)"

# Only the terrain tiles and the licence files; the whole package unpacks to ~190 MB.
rm -rf "$WORK/pkg/root"
mkdir -p "$WORK/pkg/root"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$WORK/pkg/root" \
  ./usr/share/games/wesnoth/1.16/data/core/images/terrain \
  ./usr/share/games/wesnoth/1.16/data/COPYING.txt \
  ./usr/share/doc/$PKG/copyright

rm -rf "$WORK/data"
"$PYTHON" "$ROOT/scripts/demo-pair/prepare.py" \
  --data "$WORK/pkg/root/usr/share/games/wesnoth/1.16/data" \
  --out "$WORK/data" "$@"

printf '%s\t%s\n' "$PKG" "$version" > "$WORK/data/SOURCES.tsv"
echo "wrote $WORK/data (sources in $WORK/data/SOURCES.tsv)"

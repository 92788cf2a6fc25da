#!/usr/bin/env python3
"""Cuts the demo pair's validation tiles: demo/validation/{A,B}/*.png, 64x64, from held-out maps.

The round quality gate judges a candidate version on images no training run saw. These come from
prepare.py's held-out windows (testA/ summer, testB/ winter: 256x256 windows of map layouts drawn
from their own random stream, never from the 400+400 training windows' layouts), one tile per
window: the 64x64 square at the window's centre (pixels 96..159 in x and y), the crop size the
pair was trained at, at the art's native scale. Nothing random: the same input gives the same tiles.

Usage: /usr/bin/python3 scripts/demo-pair/validation.py [--data .demo-data/data] [--out demo/validation] [--count 12]
"""

import argparse
import os
import sys

from PIL import Image

TILE = 64


def fail(msg):
    print(f'validation.py: {msg}', file=sys.stderr)
    sys.exit(2)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', default='.demo-data/data', help='prepare.py output (with testA/ and testB/)')
    ap.add_argument('--out', default='demo/validation')
    ap.add_argument('--count', type=int, default=12, help='tiles per domain, one per held-out window (8..12)')
    a = ap.parse_args()
    if not 8 <= a.count <= 12:
        fail('--count must be between 8 and 12')
    for domain in ('A', 'B'):
        src = os.path.join(a.data, f'test{domain}')
        if not os.path.isdir(src):
            fail(f'{src} not found (run scripts/demo-pair/fetch-data.sh first)')
        names = sorted(n for n in os.listdir(src) if n.endswith('.png'))
        if len(names) < a.count:
            fail(f'{src} holds {len(names)} windows, fewer than --count {a.count}')
        out = os.path.join(a.out, domain)
        os.makedirs(out, exist_ok=True)
        for old in os.listdir(out):
            if old.endswith('.png'):
                os.remove(os.path.join(out, old))
        for name in names[: a.count]:
            img = Image.open(os.path.join(src, name)).convert('RGB')
            x0, y0 = (img.width - TILE) // 2, (img.height - TILE) // 2
            img.crop((x0, y0, x0 + TILE, y0 + TILE)).save(os.path.join(out, name))
        print(f'{domain}: {a.count} tiles of {TILE}px from {src} -> {out}')


if __name__ == '__main__':
    main()

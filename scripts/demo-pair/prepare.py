#!/usr/bin/env python3
"""Builds the demo pair's two image folders (summer / winter terrain) from Battle for Wesnoth's tiles.

Wesnoth draws every terrain twice, once green and once frozen, by the same artists and at the
same scale: grass and snow, summer forests and snow-laden forests, green hills and snowy hills,
bare and snow-capped mountains. This script lays those shipped tiles out on the game's own hex
grid (72 px hexes, columns 54 px apart, odd columns half a hex lower; forests and mountains
anchored the way data/core/terrain-graphics places them) and cuts square windows out of the
result. Every pixel is Wesnoth artwork; the script only decides which tile goes in which hex.

Both domains use the same layout statistics, so the only systematic difference a CycleGAN can
pick up is the season.

Usage: /usr/bin/python3 scripts/demo-pair/prepare.py --data WESNOTH_DATA_DIR --out DIR
  WESNOTH_DATA_DIR is .../usr/share/games/wesnoth/1.16/data from the extracted package.
"""

import argparse
import os
import random
import sys

from PIL import Image

HEX = 72
COL_STEP = 54
MAP_COLS, MAP_ROWS = 16, 13

# Per domain: the base tiles, the forest overlays, the hills and the mountain overlays.
SEASONS = {
    'summer': {
        'grass': ['grass/green', 'grass/green2', 'grass/green3', 'grass/green4', 'grass/green5',
                  'grass/green6', 'grass/green7', 'grass/green8'],
        'forest': ['forest/deciduous-summer', 'forest/deciduous-summer2', 'forest/deciduous-summer3',
                   'forest/deciduous-summer4', 'forest/deciduous-summer-sparse', 'forest/deciduous-summer-sparse2',
                   'forest/deciduous-summer-sparse3', 'forest/mixed-summer', 'forest/mixed-summer2',
                   'forest/mixed-summer-sparse', 'forest/mixed-summer-sparse2', 'forest/pine', 'forest/pine2',
                   'forest/pine3', 'forest/pine4', 'forest/pine-sparse', 'forest/pine-sparse2',
                   'forest/pine-sparse3', 'forest/pine-sparse4'],
        'hills': ['hills/regular', 'hills/regular2', 'hills/regular3'],
        'mountain': ['mountains/basic', 'mountains/basic2', 'mountains/basic3'],
    },
    'winter': {
        'grass': ['frozen/snow', 'frozen/snow2', 'frozen/snow3'],
        'forest': ['forest/deciduous-winter-snow', 'forest/deciduous-winter-snow2',
                   'forest/deciduous-winter-snow-sparse', 'forest/deciduous-winter-snow-sparse2',
                   'forest/deciduous-winter-snow-sparse3', 'forest/mixed-winter-snow', 'forest/mixed-winter-snow2',
                   'forest/mixed-winter-snow-sparse', 'forest/mixed-winter-snow-sparse2', 'forest/snow-forest',
                   'forest/snow-forest2', 'forest/snow-forest3', 'forest/snow-forest4', 'forest/snow-forest-sparse',
                   'forest/snow-forest-sparse2', 'forest/snow-forest-sparse3', 'forest/snow-forest-sparse4'],
        'hills': ['hills/snow', 'hills/snow2', 'hills/snow3'],
        'mountain': ['mountains/snow', 'mountains/snow2', 'mountains/snow3'],
    },
}

# Share of hexes per terrain kind; clustering below turns these into patches like a real map's.
KINDS = [('grass', 0.45), ('forest', 0.33), ('hills', 0.14), ('mountain', 0.08)]
# Where an overlay's anchor lands on the hex centre (36, 36): forests are centred 144×144
# images; mountains use terrain-graphics/mountains.cfg MOUNTAIN_SINGLE's center=90,144.
OVERLAY_CENTER = {'forest': (72, 72), 'mountain': (90, 144)}


def fail(msg):
    print(f'prepare.py: {msg}', file=sys.stderr)
    sys.exit(2)


class Tiles:
    def __init__(self, data_dir):
        self.root = os.path.join(data_dir, 'core', 'images', 'terrain')
        if not os.path.isdir(self.root):
            fail(f'--data {data_dir}: no core/images/terrain inside (want .../wesnoth/1.16/data)')
        self.cache = {}

    def get(self, stem):
        if stem not in self.cache:
            path = os.path.join(self.root, stem + '.png')
            if not os.path.isfile(path):
                fail(f'missing tile {path}')
            self.cache[stem] = Image.open(path).convert('RGBA')
        return self.cache[stem]


def hex_origin(c, r):
    return c * COL_STEP, r * HEX + (HEX // 2 if c % 2 else 0)


def neighbours(c, r):
    # Even-q offset layout: odd columns sit half a hex lower.
    odd = c % 2
    cand = [(c, r - 1), (c, r + 1), (c - 1, r - 1 + odd), (c - 1, r + odd), (c + 1, r - 1 + odd), (c + 1, r + odd)]
    return [(x, y) for x, y in cand if 0 <= x < MAP_COLS and 0 <= y < MAP_ROWS]


def layout(rng):
    names = [k for k, _ in KINDS]
    weights = [w for _, w in KINDS]
    kind = {(c, r): rng.choices(names, weights)[0] for c in range(MAP_COLS) for r in range(MAP_ROWS)}
    # A few rounds of copying a neighbour's kind grows patches, so windows show forest edges,
    # hill ranges and open fields rather than salt-and-pepper noise.
    for _ in range(2):
        for cell in list(kind):
            if rng.random() < 0.5:
                kind[cell] = kind[rng.choice(neighbours(*cell))]
    return kind


def render_map(tiles, season, kind, rng):
    w = MAP_COLS * COL_STEP + HEX - COL_STEP
    h = MAP_ROWS * HEX + HEX // 2
    img = Image.new('RGBA', (w, h), (0, 0, 0, 255))
    set_ = SEASONS[season]
    cells = sorted(kind, key=lambda cr: (hex_origin(*cr)[1], cr[0]))
    for c, r in cells:
        base = 'hills' if kind[(c, r)] in ('hills', 'mountain') else 'grass'
        tile = tiles.get(rng.choice(set_[base]))
        img.alpha_composite(tile, hex_origin(c, r))
    # Overlays after all bases, top to bottom, so lower trees and peaks cover the ones behind.
    for c, r in cells:
        k = kind[(c, r)]
        if k not in OVERLAY_CENTER:
            continue
        over = tiles.get(rng.choice(set_[k]))
        ax, ay = OVERLAY_CENTER[k]
        x0, y0 = hex_origin(c, r)
        dest = (x0 + HEX // 2 - ax, y0 + HEX // 2 - ay)
        layer = Image.new('RGBA', img.size, (0, 0, 0, 0))
        layer.paste(over, dest)
        img.alpha_composite(layer)
    return img


def windows(img, size, count, rng):
    # Stay a hex away from the map's edges, where the staggered columns leave gaps.
    x_lo, y_lo = HEX, HEX
    x_hi, y_hi = img.width - HEX - size, img.height - HEX - size
    if x_hi <= x_lo or y_hi <= y_lo:
        fail(f'--size {size} is too large for a {img.width}×{img.height} map')
    for _ in range(count):
        x, y = rng.randint(x_lo, x_hi), rng.randint(y_lo, y_hi)
        yield img.crop((x, y, x + size, y + size)).convert('RGB')


def write_domain(tiles, season, folder, n, size, per_map, rng):
    os.makedirs(folder, exist_ok=True)
    written = 0
    while written < n:
        kind = layout(rng)
        img = render_map(tiles, season, kind, rng)
        for win in windows(img, size, min(per_map, n - written), rng):
            win.save(os.path.join(folder, f'{season}_{written:04d}.png'))
            written += 1
    return written


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', required=True, help='extracted .../wesnoth/1.16/data folder')
    ap.add_argument('--out', required=True, help='folder to write trainA/ trainB/ testA/ testB/ into')
    ap.add_argument('--size', type=int, default=128, help='side of each training window in px')
    ap.add_argument('--test-size', type=int, default=256, help='side of each held-out window in px')
    ap.add_argument('--n-train', type=int, default=400)
    ap.add_argument('--n-test', type=int, default=12)
    ap.add_argument('--per-map', type=int, default=8, help='windows cut from each rendered map')
    ap.add_argument('--seed', type=int, default=7)
    a = ap.parse_args()
    for name in ('size', 'test_size', 'n_train', 'n_test', 'per_map'):
        if getattr(a, name) <= 0:
            fail(f'--{name.replace("_", "-")} must be a positive integer')
    if a.size % 4 or a.test_size % 4:
        fail('--size and --test-size must be multiples of 4 (the generator halves twice)')
    tiles = Tiles(a.data)
    for domain, season in (('A', 'summer'), ('B', 'winter')):
        # One RNG stream per split and domain, so changing --n-test leaves the training set alone.
        n = write_domain(tiles, season, os.path.join(a.out, f'train{domain}'), a.n_train, a.size, a.per_map,
                         random.Random(f'{a.seed}-train-{season}'))
        t = write_domain(tiles, season, os.path.join(a.out, f'test{domain}'), a.n_test, a.test_size, 2,
                         random.Random(f'{a.seed}-test-{season}'))
        print(f'{season}: {n} training windows of {a.size}px, {t} held-out windows of {a.test_size}px')


if __name__ == '__main__':
    main()

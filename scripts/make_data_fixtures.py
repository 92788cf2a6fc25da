#!/usr/bin/python3
"""Fixtures for the training data pipeline: PIL's BICUBIC resize, the reference's resampler.

The reference trainer (junyanz data/base_dataset.py) resizes with torchvision's transforms.Resize
on a PIL image, i.e. PIL.Image.resize(size, BICUBIC). This writes small RGB inputs and what PIL
makes of them at several sizes (up, down, mixed), as PNGs, plus an index JSON.
Run with Debian's python: /usr/bin/python3 scripts/make_data_fixtures.py
"""
import json
import os

import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'data')
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(1234)


def smooth(w, h):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([
        127 + 120 * np.sin(x / 7.0 + y / 11.0),
        127 + 120 * np.cos(x / 5.0 - y / 9.0),
        255 * x / w,
    ], axis=-1)
    img += rng.normal(0, 12, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


inputs = {
    'noise': rng.integers(0, 256, (23, 37, 3), dtype=np.uint8),
    'smooth': smooth(150, 97),
}
cases = [
    ('noise', 64, 64), ('noise', 16, 10), ('noise', 37, 50), ('noise', 5, 3),
    ('smooth', 143, 143), ('smooth', 40, 40), ('smooth', 150, 61),
]
index = {'inputs': {}, 'cases': []}
for name, arr in inputs.items():
    Image.fromarray(arr, 'RGB').save(os.path.join(OUT, f'{name}.png'))
    index['inputs'][name] = {'file': f'{name}.png', 'width': arr.shape[1], 'height': arr.shape[0]}
for name, w, h in cases:
    out = Image.fromarray(inputs[name], 'RGB').resize((w, h), Image.BICUBIC)
    f = f'{name}_bicubic_{w}x{h}.png'
    out.save(os.path.join(OUT, f))
    index['cases'].append({'input': name, 'width': w, 'height': h, 'file': f})
index['pil'] = Image.__version__
# ToTensor + Normalize((0.5,)*3, (0.5,)*3) as torchvision computes them, in float32.
import torch
unit = torch.arange(256, dtype=torch.uint8).float().div(255).sub(0.5).div(0.5)
index['to_unit'] = [float(v) for v in unit]
with open(os.path.join(OUT, 'resize.json'), 'w') as fh:
    json.dump(index, fh, indent=1)
print('wrote', len(index['cases']), 'cases to', os.path.abspath(OUT))

"""Makes the PyTorch fixture that test/unit/gate-metrics.test.ts checks the gate's Laplacian
pyramid (shared/gate/metrics.ts `laplacianPyramid`) against: test/fixtures/gate/pyramid.safetensors.

Run with Debian's torch:  /usr/bin/python3 scripts/make_gate_fixtures.py

The pyramid as Burt & Adelson / OpenCV's pyrDown and pyrUp build it, written independently with
torch ops: a 5×5 binomial kernel ([1, 4, 6, 4, 1] / 16, outer product) applied as one 2-D conv per
channel over reflect-101 padding (torch's 'reflect' mode), keep even rows and columns to go down
(ceil(h/2) × ceil(w/2)); to go up, place the coarse pixels on the even positions of a zero image
of the finer size and blur with 4× the kernel. Band-pass level = level − up(down(level)); the last
level is the coarsest Gaussian one. Computed in float64 on a float32 input; a 36×44 image down to
5×6 (min side 4), so odd sizes are covered. Deterministic: torch.manual_seed fixes the input.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch_reference as ref  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "test" / "fixtures" / "gate"


def blur(x: torch.Tensor, gain: float) -> torch.Tensor:
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=torch.float64) / 16
    k2 = (k[:, None] * k[None, :]) * gain
    w = k2.expand(3, 1, 5, 5).contiguous()
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), w, groups=3)


def down(x: torch.Tensor) -> torch.Tensor:
    return blur(x, 1.0)[:, :, ::2, ::2]


def up(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    z = torch.zeros(1, 3, h, w, dtype=torch.float64)
    z[:, :, ::2, ::2] = x[:, :, : math.ceil(h / 2), : math.ceil(w / 2)]
    return blur(z, 4.0)


def main() -> None:
    torch.manual_seed(5)
    h, w, min_side = 36, 44, 4
    x = (torch.rand(1, 3, h, w) * 2 - 1).float()
    sides = [(h, w)]
    while min(math.ceil(sides[-1][0] / 2), math.ceil(sides[-1][1] / 2)) >= min_side:
        sides.append((math.ceil(sides[-1][0] / 2), math.ceil(sides[-1][1] / 2)))
    g = x.double()
    t: dict[str, np.ndarray] = {"input": ref.nchw_to_nhwc(x)[0]}
    for i in range(len(sides) - 1):
        d = down(g)
        t[f"level{i}"] = ref.nchw_to_nhwc(g - up(d, *sides[i]))[0]
        g = d
    t[f"level{len(sides) - 1}"] = ref.nchw_to_nhwc(g)[0]
    OUT.mkdir(parents=True, exist_ok=True)
    ref.write_safetensors(OUT / "pyramid.safetensors", t, {"height": str(h), "width": str(w), "minSide": str(min_side)})
    print(f"pyramid: {h}×{w}, levels {sides}")


if __name__ == "__main__":
    main()

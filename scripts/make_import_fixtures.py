"""Makes the fixtures of `stripes import-torch` (test/unit/torch-import.test.ts, test/cli/import-torch.test.ts):
small reference ResnetGenerators saved as real safetensors state_dicts with the reference's keys
and PyTorch layouts, as an official `latest_net_G.pth` converted to safetensors would be, plus
the same parameters in Stripes layout as PyTorch itself permutes them.

Run with Debian's torch:  /usr/bin/python3 scripts/make_import_fixtures.py

- G_AB.f32.safetensors  ngf 8, 3 blocks, F32 (3 blocks so the block count is not a preset's)
- G_BA.f16.safetensors  same architecture, other weights, stored F16
- G_AB.stripes.safetensors / G_BA.stripes.safetensors  the expected import: Stripes layout, F32
  (for G_BA: the F16 values widened, since that is all the file holds)

The weights are scaled by fan-in (not the 0.02 training init) so translations of a real photo
are far from flat grey and every parameter visibly matters. Deterministic: torch.manual_seed.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch_reference as ref  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "test" / "fixtures" / "torch-import"
NGF, N_BLOCKS = 8, 3


def randomized_generator(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = ref.resnet_generator(NGF, N_BLOCKS)
    for m in net.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            w = m.weight
            fan_in = w.shape[1] * w.shape[2] * w.shape[3]
            if isinstance(m, torch.nn.ConvTranspose2d):
                fan_in = w.shape[0] * 9 // 4  # about 2.25 of the 9 taps land on each output
            torch.nn.init.normal_(w, 0.0, 1.0 / np.sqrt(fan_in))
            torch.nn.init.uniform_(m.bias, -0.3, 0.3)
    return net.eval()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    meta = {"ngf": str(NGF), "n_blocks": str(N_BLOCKS), "made_by": "scripts/make_import_fixtures.py"}

    g_ab = randomized_generator(1)
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in g_ab.state_dict().items()}
    ref.write_safetensors(OUT / "G_AB.f32.safetensors", sd, meta)
    ref.write_safetensors(OUT / "G_AB.stripes.safetensors", ref.state_dict_to_stripes(g_ab))

    g_ba = randomized_generator(2)
    sd16 = {k: v.detach().numpy().astype(np.float16) for k, v in g_ba.state_dict().items()}
    ref.write_safetensors(OUT / "G_BA.f16.safetensors", sd16, meta)
    # What the F16 file means: its values widened back to float32, then the reference's permutation.
    g_ba.load_state_dict({k: torch.from_numpy(v.astype(np.float32)) for k, v in sd16.items()})
    ref.write_safetensors(OUT / "G_BA.stripes.safetensors", ref.state_dict_to_stripes(g_ba))

    for f in sorted(OUT.glob("*.safetensors")):
        print(f"{f.name}: {f.stat().st_size} bytes")
    print(f"keys: {list(sd)}")


if __name__ == "__main__":
    main()

"""Makes the expected outputs of `stripes translate` on a real photo (test/cli/translate.test.ts):
the PyTorch reference generator, with the weights of the import fixtures, run on
test/fixtures/images/chelsea.png with exactly the pre- and post-processing Stripes uses:

    x = pixels / 127.5 - 1                          (float32)
    reflection-pad bottom/right to a multiple of 4  (F.pad mode='reflect')
    y = G(x), cropped back to the image's size
    out = clamp(round((y + 1) * 127.5), 0, 255)     (float32, round half to even)

Run with Debian's torch (after scripts/make_import_fixtures.py):

    /usr/bin/python3 scripts/make_translate_fixture.py [--photo /path/to/skimage/data/chelsea.png]

--photo remakes the small test photo from scikit-image's chelsea.png (Debian package
python3-skimage, CC0; see test/fixtures/images/README.md): a Lanczos resize to 70×47, neither
side a multiple of 4, saved as PNG (exact pixels, for the parity test) and as JPEG (for the
decoder test). Without it the committed photo is used.

Writes test/fixtures/images/chelsea.AtoB.png (G_AB, from F32 weights) and chelsea.BtoA.png
(G_BA, from F16 weights), and prints how many outputs sit within 0.02 of a rounding boundary
(those are where a float32 difference of 1e-5 could flip a level, hence the test's tolerance of 1).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch_reference as ref  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "test" / "fixtures" / "images"
WEIGHTS = ROOT / "test" / "fixtures" / "torch-import"
SIZE = (70, 47)


def make_photo(src: Path) -> None:
    img = Image.open(src).convert("RGB").resize(SIZE, Image.LANCZOS)
    IMAGES.mkdir(parents=True, exist_ok=True)
    img.save(IMAGES / "chelsea.png", optimize=True)
    img.save(IMAGES / "chelsea.jpg", quality=95, subsampling=0)


def load_generator(file: str) -> torch.nn.Module:
    sd = {k: torch.from_numpy(v.astype(np.float32)) for k, v in ref.read_safetensors(WEIGHTS / file).items()}
    ngf = sd["model.1.weight"].shape[0]
    n_blocks = len({k.split(".")[1] for k in sd if ".conv_block." in k})
    net = ref.resnet_generator(ngf, n_blocks)
    net.load_state_dict(sd)
    return net.eval()


def translate(net: torch.nn.Module, pixels: np.ndarray) -> tuple[np.ndarray, int]:
    h, w, _ = pixels.shape
    x = torch.from_numpy(pixels).float().permute(2, 0, 1)[None] / 127.5 - 1
    ph, pw = (4 - h % 4) % 4, (4 - w % 4) % 4
    x = F.pad(x, (0, pw, 0, ph), mode="reflect")
    with torch.no_grad():
        y = net(x)[:, :, :h, :w]
    v = (y + 1) * 127.5
    near = int(((v - v.floor() - 0.5).abs() < 0.02).sum())
    out = v.round().clamp(0, 255).to(torch.uint8)[0].permute(1, 2, 0).numpy()
    return np.ascontiguousarray(out), near


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photo", type=Path, help="scikit-image's data/chelsea.png, to remake the test photo")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.photo:
        make_photo(args.photo)
    pixels = np.array(Image.open(IMAGES / "chelsea.png").convert("RGB"))
    for direction, file in (("AtoB", "G_AB.f32.safetensors"), ("BtoA", "G_BA.f16.safetensors")):
        out, near = translate(load_generator(file), pixels)
        Image.fromarray(out).save(IMAGES / f"chelsea.{direction}.png")
        diff = np.abs(out.astype(int) - pixels.astype(int))
        print(
            f"chelsea.{direction}.png: {out.shape[1]}x{out.shape[0]}, mean {out.mean():.1f}, std {out.std():.1f}, "
            f"mean |out - in| {diff.mean():.1f}; {near} of {out.size} values within 0.02 of a rounding boundary"
        )


if __name__ == "__main__":
    main()

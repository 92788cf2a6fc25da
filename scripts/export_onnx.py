"""Exports one ResNet generator three ways from the SAME weights, so the benchmark compares
runtimes and never models: an ONNX graph (for ONNX Runtime), the reference state_dict (for the
PyTorch peer) and the Stripes-layout parameters (for TF.js), plus fixed inputs and PyTorch's
outputs on them (the benchmark checks every runtime's output against these before timing it).

    /usr/bin/python3 scripts/export_onnx.py --out-dir bench/out/cache/full [--ngf 64 --blocks 9]
        [--arch resnet|mobile] [--sizes 256,128] [--seed 0] [--weights latest_net_G.safetensors]

--arch mobile exports the distilled student instead (GAN Compression's mobile ResNet,
shared/model/student.ts) at that ngf and block count.

Writes in --out-dir: G.onnx (dynamic height/width, opset 13: ReflectionPad2d needs opset ≥ 11),
G.ref.safetensors (state_dict keys and layout), G.stripes.safetensors (Stripes/TF.js layout),
io.safetensors (input_<S> and output_<S>, NHWC float32, for each size S).

Without --weights the weights are the reference's normal(0, 0.02) init with small random biases
(zero biases would leave the bias paths unchecked by the output comparison). With --weights, a
reference-layout safetensors (e.g. an official checkpoint converted as the README says) is used.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch_reference as ref  # noqa: E402


def build(arch: str, ngf: int, blocks: int, seed: int, weights: Path | None) -> torch.nn.Module:
    torch.manual_seed(seed)
    make = ref.mobile_resnet_generator if arch == "mobile" else ref.resnet_generator
    net = ref.init_weights(make(ngf, blocks))
    if weights is not None:
        sd = {k: torch.from_numpy(v).float() for k, v in ref.read_safetensors(weights).items()}
        net.load_state_dict(sd, strict=True)
    else:
        for m in net.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                torch.nn.init.uniform_(m.bias, -0.05, 0.05)
    return net.eval()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out-dir", type=Path, required=True)
    p.add_argument("--arch", choices=["resnet", "mobile"], default="resnet")
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--blocks", type=int, default=9)
    p.add_argument("--sizes", default="256,128")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--opset", type=int, default=13)
    p.add_argument("--weights", type=Path, default=None)
    a = p.parse_args()
    if a.opset < 11:
        sys.exit("export_onnx: --opset must be at least 11 (ReflectionPad2d exports as Pad mode=reflect from opset 11)")
    sizes = [int(s) for s in a.sizes.split(",") if s]
    if not sizes or any(s < 8 or s % 4 for s in sizes):
        sys.exit(f"export_onnx: --sizes must be multiples of 4, at least 8, got {a.sizes!r}")
    torch.set_num_threads(1)
    a.out_dir.mkdir(parents=True, exist_ok=True)
    net = build(a.arch, a.ngf, a.blocks, a.seed, a.weights)

    ref.write_safetensors(a.out_dir / "G.ref.safetensors", {k: v.numpy() for k, v in net.state_dict().items()})
    meta = {"arch": a.arch, "ngf": str(a.ngf), "nBlocks": str(a.blocks), "seed": str(a.seed)}
    ref.write_safetensors(a.out_dir / "G.stripes.safetensors", ref.state_dict_to_stripes(net), meta)

    gen = torch.Generator().manual_seed(a.seed + 1)
    io: dict[str, np.ndarray] = {}
    with torch.no_grad():
        for s in sizes:
            x = torch.rand(1, 3, s, s, generator=gen) * 2 - 1
            io[f"input_{s}"] = ref.nchw_to_nhwc(x)
            io[f"output_{s}"] = ref.nchw_to_nhwc(net(x))
    ref.write_safetensors(a.out_dir / "io.safetensors", io, {"sizes": json.dumps(sizes)})

    dummy = torch.zeros(1, 3, sizes[0], sizes[0])
    torch.onnx.export(
        net,
        dummy,
        str(a.out_dir / "G.onnx"),
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {2: "height", 3: "width"}, "output": {2: "height", 3: "width"}},
        opset_version=a.opset,
        do_constant_folding=True,
    )
    try:
        import onnx
    except ModuleNotFoundError:
        # The checker is an extra: every runtime's output is compared with PyTorch's before timing.
        print("export_onnx: python3-onnx is not installed; skipping onnx.checker", file=sys.stderr)
    else:
        onnx.checker.check_model(onnx.load(str(a.out_dir / "G.onnx")))
    print(f"export_onnx: {a.arch}, ngf {a.ngf}, {a.blocks} blocks, sizes {sizes} -> {a.out_dir}")


if __name__ == "__main__":
    main()

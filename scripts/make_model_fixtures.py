"""Makes the PyTorch fixtures that test/unit/model.test.ts and test/unit/ops.test.ts check the TF.js
networks against: weights (Stripes layout), inputs and outputs, as safetensors in
test/fixtures/model/.

Run with Debian's torch:  /usr/bin/python3 scripts/make_model_fixtures.py

Outputs are computed in float64 from the same float32 weights and inputs and then rounded to
float32, so a fixture holds the exact answer, not one float32 rounding of it; the script prints
how far float32 PyTorch itself lands from it, which is the error budget TF.js competes with.
Deterministic: torch.manual_seed fixes every number.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch_reference as ref  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "test" / "fixtures" / "model"


def _randomize(net: torch.nn.Module) -> None:
    """Weights larger than the 0.02 init and non-zero biases, so tanh bends and every bias counts."""
    for m in net.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            fan_in = m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3]
            if isinstance(m, torch.nn.ConvTranspose2d):
                fan_in = m.weight.shape[0] * 9 // 4  # about 2.25 of the 9 taps land on each output
            torch.nn.init.normal_(m.weight, 0.0, 1.0 / np.sqrt(fan_in))
            torch.nn.init.uniform_(m.bias, -0.5, 0.5)


def _forward64(net: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, float]:
    with torch.no_grad():
        y32 = net.float()(x.float())
        y64 = net.double()(x.double())
        net.float()
    return y64, float((y32.double() - y64).abs().max())


def network_fixture(name: str, net: torch.nn.Module, x: torch.Tensor, meta: dict[str, int]) -> None:
    _randomize(net)
    y64, err32 = _forward64(net, x)
    tensors = dict(ref.state_dict_to_stripes(net))
    tensors["input"] = ref.nchw_to_nhwc(x)
    tensors["output"] = ref.nchw_to_nhwc(y64)
    ref.write_safetensors(OUT / f"{name}.safetensors", tensors, {k: str(v) for k, v in meta.items()})
    y = y64.float()
    print(
        f"{name}: in {list(tensors['input'].shape)} out {list(tensors['output'].shape)} "
        f"range [{float(y.min()):.3f}, {float(y.max()):.3f}] std {float(y.std()):.3f}; "
        f"float32 torch vs float64: {err32:.2e}"
    )


def ops_fixture() -> None:
    """Forward values and gradients of the building blocks TF.js lacks or gets wrong."""
    t: dict[str, np.ndarray] = {}

    def nhwc(a: torch.Tensor) -> np.ndarray:
        return ref.nchw_to_nhwc(a)

    # Reflection pad: forward, and the gradient of sum(pad(x) * r), which folds the reflected
    # border terms back onto their source pixels (TF.js's MirrorPad gradient drops them).
    for key, shape, pad in (("reflect_p2", (2, 3, 5, 6), 2), ("reflect_p3", (1, 2, 7, 8), 3)):
        x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
        y = F.pad(x, (pad, pad, pad, pad), mode="reflect")
        r = torch.randn_like(y)
        (g,) = torch.autograd.grad((y * r).sum(), x)
        t[f"{key}.x"], t[f"{key}.y"], t[f"{key}.r"], t[f"{key}.dx"] = nhwc(x), nhwc(y), nhwc(r), nhwc(g)

    # Instance norm (no affine, eps 1e-5, biased variance) with offsets and scales that differ
    # per sample and channel, so a norm over the wrong axes fails.
    x = (torch.randn(2, 3, 5, 6, dtype=torch.float64) * torch.tensor([0.5, 2.0, 7.0]).view(1, 3, 1, 1).double()
         + torch.tensor([[1.0], [-3.0]]).view(2, 1, 1, 1).double())
    x.requires_grad_(True)
    y = F.instance_norm(x, eps=1e-5)
    r = torch.randn_like(y)
    (g,) = torch.autograd.grad((y * r).sum(), x)
    t["inorm.x"], t["inorm.y"], t["inorm.r"], t["inorm.dx"] = nhwc(x), nhwc(y), nhwc(r), nhwc(g)

    # ConvTranspose2d(k=3, s=2, padding=1, output_padding=1): the generator's upsampling.
    cin, cout = 6, 4
    x = torch.randn(2, cin, 5, 7, dtype=torch.float64, requires_grad=True)
    w = (torch.randn(cin, cout, 3, 3, dtype=torch.float64) * 0.3).requires_grad_(True)
    b = torch.randn(cout, dtype=torch.float64, requires_grad=True)
    y = F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1)
    r = torch.randn_like(y)
    gx, gw, gb = torch.autograd.grad((y * r).sum(), (x, w, b))
    t["convT.x"], t["convT.y"], t["convT.r"], t["convT.dx"] = nhwc(x), nhwc(y), nhwc(r), nhwc(gx)
    t["convT.w"] = ref.to_stripes(w, "convTranspose")
    t["convT.dw"] = ref.to_stripes(gw, "convTranspose")
    t["convT.b"] = b.detach().numpy().astype(np.float32)
    t["convT.db"] = gb.numpy().astype(np.float32)

    # A 3x3 stride-2 conv with padding 1 and a 4x4 stride-2 conv with padding 1, as the
    # generator's downsampling and the discriminator use (not TF's 'same', which pads differently).
    for key, k, stride, shape in (("conv3s2", 3, 2, (2, 4, 8, 12)), ("conv4s2", 4, 2, (1, 3, 10, 9)), ("conv4s1", 4, 1, (1, 3, 6, 5))):
        x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
        w = (torch.randn(5, shape[1], k, k, dtype=torch.float64) * 0.3).requires_grad_(True)
        b = torch.randn(5, dtype=torch.float64, requires_grad=True)
        y = F.conv2d(x, w, b, stride=stride, padding=1)
        r = torch.randn_like(y)
        gx, gw, gb = torch.autograd.grad((y * r).sum(), (x, w, b))
        t[f"{key}.x"], t[f"{key}.y"], t[f"{key}.r"], t[f"{key}.dx"] = nhwc(x), nhwc(y), nhwc(r), nhwc(gx)
        t[f"{key}.w"], t[f"{key}.dw"] = ref.to_stripes(w, "conv"), ref.to_stripes(gw, "conv")
        t[f"{key}.b"], t[f"{key}.db"] = b.detach().numpy().astype(np.float32), gb.numpy().astype(np.float32)

    ref.write_safetensors(OUT / "ops.safetensors", {k: v.astype(np.float32) for k, v in t.items()})
    print(f"ops: {len(t)} tensors")


def gradient_fixture(name: str, net: torch.nn.Module, x: torch.Tensor, meta: dict[str, int]) -> None:
    """Gradients of sum(net(x) * r) for every parameter and the input, in float64: what one
    training step of the whole network must reproduce."""
    _randomize(net)
    net = net.double()
    x = x.double().requires_grad_(True)
    y = net(x)
    r = torch.randn_like(y)
    names = [k for k, _ in net.named_parameters()]
    grads = torch.autograd.grad((y * r).sum(), [x, *net.parameters()])
    kinds = ref.conv_kinds(net)
    tensors = dict(ref.state_dict_to_stripes(net))
    tensors["input"], tensors["r"], tensors["output"] = ref.nchw_to_nhwc(x), ref.nchw_to_nhwc(r), ref.nchw_to_nhwc(y)
    tensors["grad.input"] = ref.nchw_to_nhwc(grads[0])
    for k, g in zip(names, grads[1:]):
        tensors[f"grad.{k}"] = ref.to_stripes(g, kinds[k])
    ref.write_safetensors(OUT / f"{name}.safetensors", tensors, {k: str(v) for k, v in meta.items()})
    print(f"{name}: {len(names)} parameter gradients, input {list(tensors['input'].shape)}")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(20170330)  # the CycleGAN paper's arXiv date
    network_fixture(
        "gen6_ngf8", ref.resnet_generator(ngf=8, n_blocks=6), torch.rand(2, 3, 20, 28) * 2 - 1, {"ngf": 8, "nBlocks": 6}
    )
    network_fixture(
        "gen9_ngf4", ref.resnet_generator(ngf=4, n_blocks=9), torch.rand(1, 3, 24, 16) * 2 - 1, {"ngf": 4, "nBlocks": 9}
    )
    network_fixture(
        "disc_ndf8", ref.nlayer_discriminator(ndf=8, n_layers=3), torch.rand(2, 3, 56, 44) * 2 - 1, {"ndf": 8, "nLayers": 3}
    )
    ops_fixture()
    gradient_fixture(
        "gen_grad_ngf2", ref.resnet_generator(ngf=2, n_blocks=1), torch.rand(1, 3, 12, 16) * 2 - 1, {"ngf": 2, "nBlocks": 1}
    )
    gradient_fixture(
        "disc_grad_ndf2", ref.nlayer_discriminator(ndf=2, n_layers=3), torch.rand(2, 3, 36, 32) * 2 - 1, {"ndf": 2, "nLayers": 3}
    )
    total = sum(p.stat().st_size for p in OUT.glob("*.safetensors"))
    print(f"total {total / 1024:.0f} KiB in {OUT}")


if __name__ == "__main__":
    main()

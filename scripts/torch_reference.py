"""An independent PyTorch reference of the CycleGAN networks, written from the paper's spec and the
reference implementation (junyanz/pytorch-CycleGAN-and-pix2pix, models/networks.py:
ResnetGenerator, ResnetBlock, NLayerDiscriminator with InstanceNorm2d(affine=False,
track_running_stats=False), no dropout).

The `nn.Sequential` indices are the reference's, so `state_dict()` keys are the names in
shared/model/param-specs.ts (`model.1.weight`, `model.10.conv_block.1.weight`, ...). Stripes's
TF.js model is checked against this module number for number.

Import it from other scripts with:

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import torch_reference as ref

Functions:
    resnet_generator(ngf, n_blocks)        -> nn.Module   (input/output NCHW, 3 channels)
    mobile_resnet_generator(ngf, n_blocks) -> nn.Module   the distilled student (GAN Compression's
                                                          MobileResnetGenerator: separable blocks)
    nlayer_discriminator(ndf, n_layers)    -> nn.Module
    init_weights(net)                      normal(0, 0.02) weights, zero biases (the reference's 'normal' init)
    state_dict_to_stripes(sd)              {name: np.float32 array in Stripes/TF.js layout}
    to_stripes(name, tensor, kind)         one tensor's layout change
    nchw_to_nhwc / nhwc_to_nchw            activations between PyTorch and TF.js layouts
    write_safetensors(path, tensors, metadata=None) / read_safetensors(path)   plain struct + json
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import torch
from torch import nn


def _norm(ch: int) -> nn.Module:
    # The reference's get_norm_layer('instance'): no affine parameters, no running statistics.
    return nn.InstanceNorm2d(ch, affine=False, track_running_stats=False)


class ResnetBlock(nn.Module):
    """Sequential indices 0..6: pad, conv (1), IN, ReLU, pad, conv (5), IN; plus the skip."""

    def __init__(self, dim: int):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=True),
            _norm(dim),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=True),
            _norm(dim),
        )

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    def __init__(self, ngf: int = 64, n_blocks: int = 9, input_nc: int = 3, output_nc: int = 3):
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=True),
            _norm(ngf),
            nn.ReLU(True),
        ]
        for i in range(2):
            mult = 2**i
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3, stride=2, padding=1, bias=True),
                _norm(ngf * mult * 2),
                nn.ReLU(True),
            ]
        for _ in range(n_blocks):
            layers.append(ResnetBlock(ngf * 4))
        for i in range(2):
            mult = 2 ** (2 - i)
            layers += [
                nn.ConvTranspose2d(
                    ngf * mult, ngf * mult // 2, kernel_size=3, stride=2, padding=1, output_padding=1, bias=True
                ),
                _norm(ngf * mult // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """The 70×70 PatchGAN for n_layers=3: indices 0, 2, 5, 8, 11 hold the convs."""

    def __init__(self, ndf: int = 64, n_layers: int = 3, input_nc: int = 3):
        super().__init__()
        kw, padw = 4, 1
        seq: list[nn.Module] = [nn.Conv2d(input_nc, ndf, kw, stride=2, padding=padw), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            seq += [
                nn.Conv2d(ndf * prev, ndf * mult, kw, stride=2, padding=padw, bias=True),
                _norm(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        prev, mult = mult, min(2**n_layers, 8)
        seq += [
            nn.Conv2d(ndf * prev, ndf * mult, kw, stride=1, padding=padw, bias=True),
            _norm(ndf * mult),
            nn.LeakyReLU(0.2, True),
        ]
        seq += [nn.Conv2d(ndf * mult, 1, kw, stride=1, padding=padw)]
        self.model = nn.Sequential(*seq)

    def forward(self, x):
        return self.model(x)


class SeparableConv2d(nn.Module):
    """GAN Compression's separable conv: depthwise k×k (groups = channels), InstanceNorm, pointwise 1×1."""

    def __init__(self, dim_in: int, dim_out: int, kernel_size: int = 3):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(dim_in, dim_in, kernel_size=kernel_size, padding=0, groups=dim_in, bias=True),
            _norm(dim_in),
            nn.Conv2d(dim_in, dim_out, kernel_size=1, bias=True),
        )

    def forward(self, x):
        return self.conv(x)


class MobileResnetBlock(nn.Module):
    """Sequential indices 0..7: pad, separable conv (1), IN, ReLU, Dropout(0), pad, separable conv (6), IN; plus the skip."""

    def __init__(self, dim: int):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            SeparableConv2d(dim, dim),
            _norm(dim),
            nn.ReLU(True),
            nn.Dropout(0.0),
            nn.ReflectionPad2d(1),
            SeparableConv2d(dim, dim),
            _norm(dim),
        )

    def forward(self, x):
        return x + self.conv_block(x)


class MobileResnetGenerator(ResnetGenerator):
    """The ResNet generator's stem, down- and upsampling and head, with MobileResnetBlocks (same indices)."""

    def __init__(self, ngf: int = 64, n_blocks: int = 9):
        super().__init__(ngf=ngf, n_blocks=n_blocks)
        layers = list(self.model)
        for i in range(n_blocks):
            layers[10 + i] = MobileResnetBlock(ngf * 4)
        self.model = nn.Sequential(*layers)


def mobile_resnet_generator(ngf: int, n_blocks: int) -> MobileResnetGenerator:
    return MobileResnetGenerator(ngf=ngf, n_blocks=n_blocks)


def resnet_generator(ngf: int, n_blocks: int) -> ResnetGenerator:
    return ResnetGenerator(ngf=ngf, n_blocks=n_blocks)


def nlayer_discriminator(ndf: int, n_layers: int = 3) -> NLayerDiscriminator:
    return NLayerDiscriminator(ndf=ndf, n_layers=n_layers)


def init_weights(net: nn.Module, gain: float = 0.02) -> nn.Module:
    """The reference's init_weights(net, 'normal', 0.02) for conv layers (the norms have no weights)."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return net


def conv_kinds(net: nn.Module) -> dict[str, str]:
    """state_dict key -> 'conv' | 'convTranspose' | 'depthwise' | 'bias', the roles of param-specs.ts."""
    kinds: dict[str, str] = {}
    for name, m in net.named_modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            if isinstance(m, nn.ConvTranspose2d):
                kinds[f"{name}.weight"] = "convTranspose"
            elif m.groups > 1:
                if m.groups != m.in_channels or m.out_channels != m.in_channels:
                    raise ValueError(f"{name}: only depthwise grouped convs (groups = channels) are supported")
                kinds[f"{name}.weight"] = "depthwise"
            else:
                kinds[f"{name}.weight"] = "conv"
            if m.bias is not None:
                kinds[f"{name}.bias"] = "bias"
    return kinds


def to_stripes(tensor: torch.Tensor, kind: str) -> np.ndarray:
    """PyTorch layout -> Stripes (TF.js) layout for one parameter."""
    t = tensor.detach()
    if kind == "conv":  # [out, in, kh, kw] -> [kh, kw, in, out]
        t = t.permute(2, 3, 1, 0)
    elif kind == "convTranspose":  # [in, out, kh, kw] -> [kh, kw, out, in]
        t = t.permute(2, 3, 1, 0)
    elif kind == "depthwise":  # [channels, 1, kh, kw] -> [kh, kw, channels, 1]
        t = t.permute(2, 3, 0, 1)
    elif kind != "bias":
        raise ValueError(f"unknown parameter kind {kind!r}")
    return np.ascontiguousarray(t.cpu().numpy().astype(np.float32))


def state_dict_to_stripes(net: nn.Module) -> dict[str, np.ndarray]:
    """The network's parameters by state_dict key, in Stripes layout, in state_dict order."""
    kinds = conv_kinds(net)
    return {k: to_stripes(v, kinds[k]) for k, v in net.state_dict().items()}


def nchw_to_nhwc(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().permute(0, 2, 3, 1).cpu().numpy().astype(np.float32))


def nhwc_to_nchw(a: np.ndarray, dtype=torch.float32) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).contiguous().to(dtype)


_DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16"}
_NP = {v: k for k, v in _DTYPES.items()}


def write_safetensors(path: str | Path, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> None:
    """Plain-python safetensors writer (no `safetensors` package): u64 header length, JSON, bytes."""
    header: dict[str, object] = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, arr in tensors.items():
        a = np.ascontiguousarray(arr)
        if a.dtype not in _DTYPES:
            a = a.astype(np.float32)
        raw = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _DTYPES[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)  # keep the data 8-byte aligned, as the safetensors package does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)


def read_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + b : 8 + n + e], dtype=_NP[info["dtype"]]).reshape(info["shape"]).copy()
    return out

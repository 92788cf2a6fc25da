"""Makes the PyTorch fixture of one full CycleGAN training iteration that test/unit/train-step.test.ts
checks Stripes's train step against: initial weights, inputs, every loss term, every gradient
and every parameter after one Adam step of the generators and one of the discriminators, as
safetensors in test/fixtures/train/iteration.safetensors.

Run with Debian's torch:  /usr/bin/python3 scripts/make_train_fixtures.py

The iteration is the reference's `optimize_parameters` (models/cycle_gan_model.py) written out
with the networks of torch_reference.py and the reference's own optimizer (torch.optim.Adam, lr
2e-4, betas (0.5, 0.999)); the history pools return their input, as the real ones do while they
fill. It runs in float64 from float32 weights and inputs, so the fixture holds the exact answer;
the script prints how far a float32 PyTorch run lands from it, the budget TF.js competes with.

Conv biases that feed an instance norm have a gradient that is exactly zero (the norm removes
any per-channel constant). In floating point it is rounding noise, and Adam's normalisation
m/(√v+ε) turns noise into steps of up to ±lr, so those parameters cannot match number for
number between any two implementations. They are listed in the metadata (`null_grad`); the
test checks that their gradient is at noise level and their step at most lr.
Deterministic: torch.manual_seed fixes every number.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch_reference as ref  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "test" / "fixtures" / "train"
NGF, N_BLOCKS, NDF, N_LAYERS = 4, 2, 4, 3
SIZE = 32
LR, BETAS = 2e-4, (0.5, 0.999)
LAMBDA_A, LAMBDA_B, LAMBDA_IDT = 10.0, 10.0, 0.5
# Stripes name -> the reference's network (see shared/train/cyclegan.ts for the mapping).
NETS = ("G_AB", "G_BA", "D_A", "D_B")


def make_nets() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    nets = {
        "G_AB": ref.init_weights(ref.resnet_generator(NGF, N_BLOCKS)),  # netG_A
        "G_BA": ref.init_weights(ref.resnet_generator(NGF, N_BLOCKS)),  # netG_B
        "D_A": ref.init_weights(ref.nlayer_discriminator(NDF, N_LAYERS)),  # netD_B: judges A
        "D_B": ref.init_weights(ref.nlayer_discriminator(NDF, N_LAYERS)),  # netD_A: judges B
    }
    # Small random biases, so the bias paths carry signal from the start (zero-init would leave
    # them untested by the loss values).
    for net in nets.values():
        for m in net.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                torch.nn.init.uniform_(m.bias, -0.05, 0.05)
    return nets


def mse(pred: torch.Tensor, real: bool) -> torch.Tensor:
    # The reference's GANLoss('lsgan'): MSELoss against a target tensor of ones or zeros.
    return F.mse_loss(pred, torch.ones_like(pred) if real else torch.zeros_like(pred))


def iteration(nets: dict[str, torch.nn.Module], real_A: torch.Tensor, real_B: torch.Tensor):
    G_A, G_B, D_A, D_B = nets["G_AB"], nets["G_BA"], nets["D_B"], nets["D_A"]  # reference names
    opt_G = torch.optim.Adam(list(G_A.parameters()) + list(G_B.parameters()), lr=LR, betas=BETAS)
    opt_D = torch.optim.Adam(list(D_A.parameters()) + list(D_B.parameters()), lr=LR, betas=BETAS)
    losses: dict[str, torch.Tensor] = {}

    # forward()
    fake_B = G_A(real_A)
    rec_A = G_B(fake_B)
    fake_A = G_B(real_B)
    rec_B = G_A(fake_A)

    # G_A and G_B, with the discriminators frozen
    for d in (D_A, D_B):
        d.requires_grad_(False)
    opt_G.zero_grad()
    idt_A = G_A(real_B)
    losses["idt_A"] = F.l1_loss(idt_A, real_B) * LAMBDA_B * LAMBDA_IDT
    idt_B = G_B(real_A)
    losses["idt_B"] = F.l1_loss(idt_B, real_A) * LAMBDA_A * LAMBDA_IDT
    losses["G_A"] = mse(D_A(fake_B), True)
    losses["G_B"] = mse(D_B(fake_A), True)
    losses["cycle_A"] = F.l1_loss(rec_A, real_A) * LAMBDA_A
    losses["cycle_B"] = F.l1_loss(rec_B, real_B) * LAMBDA_B
    loss_G = losses["G_A"] + losses["G_B"] + losses["cycle_A"] + losses["cycle_B"] + losses["idt_A"] + losses["idt_B"]
    loss_G.backward()
    grads = {net: {k: p.grad.clone() for k, p in nets[net].named_parameters()} for net in ("G_AB", "G_BA")}
    opt_G.step()

    # D_A and D_B; the pools return their input on the first call
    for d in (D_A, D_B):
        d.requires_grad_(True)
    opt_D.zero_grad()
    pooled_B, pooled_A = fake_B.detach(), fake_A.detach()
    losses["D_A"] = (mse(D_A(real_B), True) + mse(D_A(pooled_B), False)) * 0.5
    losses["D_A"].backward()
    losses["D_B"] = (mse(D_B(real_A), True) + mse(D_B(pooled_A), False)) * 0.5
    losses["D_B"].backward()
    grads.update({net: {k: p.grad.clone() for k, p in nets[net].named_parameters()} for net in ("D_A", "D_B")})
    opt_D.step()
    return {k: float(v) for k, v in losses.items()}, grads


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    nets32 = make_nets()
    torch.manual_seed(1)
    real_A = torch.rand(1, 3, SIZE, SIZE) * 2 - 1
    real_B = torch.rand(1, 3, SIZE, SIZE) * 2 - 1
    init = {net: ref.state_dict_to_stripes(m) for net, m in nets32.items()}
    kinds = {net: ref.conv_kinds(m) for net, m in nets32.items()}

    nets64 = {net: make_nets()[net].double() for net in NETS}
    losses64, grads64 = iteration(nets64, real_A.double(), real_B.double())
    losses32, grads32 = iteration(nets32, real_A, real_B)

    tensors: dict[str, np.ndarray] = {"real_A": ref.nchw_to_nhwc(real_A), "real_B": ref.nchw_to_nhwc(real_B)}
    null_grad: list[str] = []
    worst_loss = max(abs(losses32[k] - losses64[k]) / abs(losses64[k]) for k in losses64)
    worst_grad = 0.0
    for net in NETS:
        for k, v in init[net].items():
            tensors[f"init/{net}/{k}"] = v
        for k, p in nets64[net].named_parameters():
            g = grads64[net][k]
            tensors[f"grad/{net}/{k}"] = ref.to_stripes(g, kinds[net][k])
            tensors[f"after/{net}/{k}"] = ref.to_stripes(p, kinds[net][k])
            scale = float(g.abs().max())
            if scale < 1e-12:
                null_grad.append(f"{net}/{k}")
            else:
                worst_grad = max(worst_grad, float((grads32[net][k].double() - g).abs().max()) / scale)
    for k, v in losses64.items():
        tensors[f"loss/{k}"] = np.array([v], dtype=np.float32)
    meta = {
        "config": json.dumps({"generator": {"ngf": NGF, "nBlocks": N_BLOCKS}, "discriminator": {"ndf": NDF, "nLayers": N_LAYERS}}),
        "lr": repr(LR),
        "betas": json.dumps(BETAS),
        "lambdas": json.dumps({"lambdaA": LAMBDA_A, "lambdaB": LAMBDA_B, "lambdaIdentity": LAMBDA_IDT}),
        "null_grad": json.dumps(null_grad),
    }
    ref.write_safetensors(OUT / "iteration.safetensors", tensors, meta)
    print("losses (float64):", {k: round(v, 6) for k, v in losses64.items()})
    print(f"float32 torch vs float64: losses {worst_loss:.2e} relative, gradients {worst_grad:.2e} of each tensor's max")
    print(f"{len(null_grad)} parameters with an analytically zero gradient: {null_grad}")


if __name__ == "__main__":
    main()

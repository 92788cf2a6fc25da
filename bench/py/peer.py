"""The PyTorch peer of `npm run bench`: a long-lived process that the Node harness drives one
request at a time, so PyTorch runs interleaved with TF.js and ONNX Runtime (A, B, A, B, ...)
instead of in a separate time window with a different machine load.

Protocol: one JSON object per line on stdin, one JSON reply per line on stdout (anything else
goes to stderr). Times are measured here around the computation only, not the pipe.

    {"op": "forward_setup", "dir": D}                 load D/G.ref.safetensors (export_onnx.py)
    {"op": "forward", "size": S, "threads": T}        -> {"s": seconds}
    {"op": "train_setup", "key": K, "ngf", "blocks", "ndf", "size", "seed"}
    {"op": "train", "key": K, "threads": T}           one optimize_parameters -> {"s": seconds, "losses": {...}}
    {"op": "quit"}

The training iteration is the reference's CycleGANModel.optimize_parameters
(models/cycle_gan_model.py): LSGAN, cycle L1 ×10, identity L1 ×5, D loss ×0.5, 50-image pools,
one Adam (lr 2e-4, betas 0.5/0.999) over both generators and one over both discriminators.
"""
from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import torch_reference as ref  # noqa: E402

LR, BETAS = 2e-4, (0.5, 0.999)
LAMBDA_A = LAMBDA_B = 10.0
LAMBDA_IDT = 0.5


class ImagePool:
    """The reference's ImagePool (util/image_pool.py): fills to `size`, then swaps half the time."""

    def __init__(self, size: int, rng: random.Random):
        self.size, self.rng, self.images = size, rng, []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        out = []
        for image in images:
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif self.rng.random() > 0.5:
                k = self.rng.randrange(self.size)
                out.append(self.images[k].clone())
                self.images[k] = image
            else:
                out.append(image)
        return torch.cat(out, 0)


def mse(pred: torch.Tensor, real: bool) -> torch.Tensor:
    return F.mse_loss(pred, torch.ones_like(pred) if real else torch.zeros_like(pred))


class Trainer:
    def __init__(self, ngf: int, blocks: int, ndf: int, size: int, seed: int):
        torch.manual_seed(seed)
        self.G_A = ref.init_weights(ref.resnet_generator(ngf, blocks))  # G_AB
        self.G_B = ref.init_weights(ref.resnet_generator(ngf, blocks))  # G_BA
        self.D_A = ref.init_weights(ref.nlayer_discriminator(ndf))  # judges B (Stripes D_B)
        self.D_B = ref.init_weights(ref.nlayer_discriminator(ndf))  # judges A (Stripes D_A)
        self.opt_G = torch.optim.Adam(list(self.G_A.parameters()) + list(self.G_B.parameters()), lr=LR, betas=BETAS)
        self.opt_D = torch.optim.Adam(list(self.D_A.parameters()) + list(self.D_B.parameters()), lr=LR, betas=BETAS)
        rng = random.Random(seed)
        self.pool_A, self.pool_B = ImagePool(50, rng), ImagePool(50, rng)
        self.real_A = torch.rand(1, 3, size, size) * 2 - 1
        self.real_B = torch.rand(1, 3, size, size) * 2 - 1

    def step(self) -> dict[str, float]:
        real_A, real_B = self.real_A, self.real_B
        fake_B = self.G_A(real_A)
        rec_A = self.G_B(fake_B)
        fake_A = self.G_B(real_B)
        rec_B = self.G_A(fake_A)

        for d in (self.D_A, self.D_B):
            d.requires_grad_(False)
        self.opt_G.zero_grad()
        idt_A = self.G_A(real_B)
        loss_idt_A = F.l1_loss(idt_A, real_B) * LAMBDA_B * LAMBDA_IDT
        idt_B = self.G_B(real_A)
        loss_idt_B = F.l1_loss(idt_B, real_A) * LAMBDA_A * LAMBDA_IDT
        loss_G_A = mse(self.D_A(fake_B), True)
        loss_G_B = mse(self.D_B(fake_A), True)
        loss_cycle_A = F.l1_loss(rec_A, real_A) * LAMBDA_A
        loss_cycle_B = F.l1_loss(rec_B, real_B) * LAMBDA_B
        loss_G = loss_G_A + loss_G_B + loss_cycle_A + loss_cycle_B + loss_idt_A + loss_idt_B
        loss_G.backward()
        self.opt_G.step()

        for d in (self.D_A, self.D_B):
            d.requires_grad_(True)
        self.opt_D.zero_grad()
        pooled_B = self.pool_B.query(fake_B.detach())
        loss_D_A = (mse(self.D_A(real_B), True) + mse(self.D_A(pooled_B), False)) * 0.5
        loss_D_A.backward()
        pooled_A = self.pool_A.query(fake_A.detach())
        loss_D_B = (mse(self.D_B(real_A), True) + mse(self.D_B(pooled_A), False)) * 0.5
        loss_D_B.backward()
        self.opt_D.step()
        return {
            "G_A": float(loss_G_A), "G_B": float(loss_G_B), "cycle_A": float(loss_cycle_A), "cycle_B": float(loss_cycle_B),
            "idt_A": float(loss_idt_A), "idt_B": float(loss_idt_B), "D_A": float(loss_D_A), "D_B": float(loss_D_B),
        }


def main() -> None:
    gen: torch.nn.Module | None = None
    fwd_dir: Path | None = None
    trainers: dict[str, Trainer] = {}
    threads = 0

    def set_threads(t: int) -> None:
        nonlocal threads
        if t != threads:
            torch.set_num_threads(t)
            threads = t

    for line in sys.stdin:
        req = json.loads(line)
        op = req.get("op")
        try:
            if op == "quit":
                break
            if op == "forward_setup":
                fwd_dir = Path(req["dir"])
                sd = {k: torch.from_numpy(v) for k, v in ref.read_safetensors(fwd_dir / "G.ref.safetensors").items()}
                ngf = sd["model.1.weight"].shape[0]
                blocks = sum(1 for k in sd if k.endswith("conv_block.1.weight"))
                gen = ref.resnet_generator(ngf, blocks)
                gen.load_state_dict(sd, strict=True)
                gen.eval()
                reply: dict = {"ok": True, "ngf": ngf, "blocks": blocks}
            elif op == "forward":
                assert gen is not None, "forward_setup first"
                set_threads(int(req["threads"]))
                s = int(req["size"])
                x = torch.rand(1, 3, s, s) * 2 - 1
                with torch.no_grad():
                    t0 = time.perf_counter()
                    gen(x)
                    reply = {"s": time.perf_counter() - t0}
            elif op == "train_setup":
                trainers[req["key"]] = Trainer(int(req["ngf"]), int(req["blocks"]), int(req["ndf"]), int(req["size"]), int(req["seed"]))
                reply = {"ok": True}
            elif op == "train":
                set_threads(int(req["threads"]))
                tr = trainers[req["key"]]
                t0 = time.perf_counter()
                losses = tr.step()
                reply = {"s": time.perf_counter() - t0, "losses": losses}
            else:
                reply = {"error": f"unknown op {op!r}"}
        except Exception as e:  # the harness shows the message and stops that peer, not the bench
            reply = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

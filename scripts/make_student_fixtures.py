"""Makes the PyTorch fixtures that test/unit/student.test.ts checks the TF.js student generator
(shared/model/student.ts) against: scripts/torch_reference.py's MobileResnetGenerator with
weights, inputs, outputs and gradients, as safetensors in test/fixtures/model/.

Run with Debian's torch:  /usr/bin/python3 scripts/make_student_fixtures.py

Same method as make_model_fixtures.py (whose helpers it uses): outputs and gradients computed in
float64 from float32 weights, deterministic seed.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_model_fixtures as mk  # noqa: E402
import torch_reference as ref  # noqa: E402


_dense_randomize = mk._randomize


def _randomize(net: torch.nn.Module) -> None:
    """make_model_fixtures's scale for the dense convs; a depthwise conv's fan-in is its 9 taps."""
    _dense_randomize(net)
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d) and m.groups > 1:
            torch.nn.init.normal_(m.weight, 0.0, 1.0 / 3.0)


def main() -> None:
    mk.OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(20200319)  # GAN Compression's arXiv date
    mk._randomize = _randomize  # the fixture helpers call it by module attribute
    mk.network_fixture(
        "student_ngf4_b3", ref.mobile_resnet_generator(ngf=4, n_blocks=3), torch.rand(2, 3, 20, 28) * 2 - 1,
        {"ngf": 4, "nBlocks": 3},
    )
    mk.gradient_fixture(
        "student_grad_ngf2", ref.mobile_resnet_generator(ngf=2, n_blocks=2), torch.rand(1, 3, 12, 16) * 2 - 1,
        {"ngf": 2, "nBlocks": 2},
    )


if __name__ == "__main__":
    main()

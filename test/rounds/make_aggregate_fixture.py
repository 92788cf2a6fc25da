"""Reference values for shared/rounds (aggregate.ts, outer-optimizer.ts), made independently with
numpy (aggregation rules written from their papers' definitions) and torch.optim.SGD (the outer
Nesterov step). Run with /usr/bin/python3 (Debian torch 1.13); writes fixtures/aggregate.json."""
import json
import os

import numpy as np
import torch

rng = np.random.default_rng(20260127)
n, L = 5, 23
deltas = rng.normal(0, 0.01, size=(n, L)).astype(np.float32)
deltas[3] *= 40  # one far too large: gets clipped / trimmed
samples = np.array([16, 8, 16, 32, 4], dtype=np.float64)
d64 = deltas.astype(np.float64)
norms = np.linalg.norm(d64, axis=1)
clip = 1.5 * float(np.median(norms))

# mean: sum_i w_i * min(1, C/|d_i|) * d_i / sum_i w_i
scale = np.minimum(1.0, clip / norms)
mean = (samples[:, None] * scale[:, None] * d64).sum(0) / samples.sum()

# trimmed mean (beta = 0.2 -> k = 1 per end), unweighted, on clipped deltas
clipped = scale[:, None] * d64
k = int(np.floor(0.2 * n))
srt = np.sort(clipped, axis=0)
trimmed = srt[k:n - k].mean(0)

# centred clipping, one iteration: v = v0 + 1/n sum clip_tau(d_i - v0), tau = median |d_i - v0|
centre = rng.normal(0, 0.005, size=L).astype(np.float32)
diff = d64 - centre.astype(np.float64)
dist = np.linalg.norm(diff, axis=1)
tau = float(np.median(dist))
cc = centre.astype(np.float64) + (np.minimum(1.0, tau / dist)[:, None] * diff).sum(0) / n
# ... and with a zero centre and a given tau
tau0 = 0.02
cc0 = (np.minimum(1.0, tau0 / norms)[:, None] * d64).sum(0) / n

# outer steps: grad = -aggregated delta, torch SGD
def outer(lr, mom, nesterov, p0, ds):
    p = torch.nn.Parameter(torch.tensor(p0))
    opt = torch.optim.SGD([p], lr=lr, momentum=mom, nesterov=nesterov)
    out = []
    for d in ds:
        opt.zero_grad()
        p.grad = -torch.tensor(d)
        opt.step()
        out.append(p.detach().numpy().astype(np.float64).tolist())
    return out

p0 = rng.normal(0, 0.1, size=L).astype(np.float32)
outer_deltas = rng.normal(0, 0.01, size=(3, L)).astype(np.float32)
nesterov = outer(0.7, 0.9, True, p0, outer_deltas)
heavy_ball = outer(0.5, 0.8, False, p0, outer_deltas)

f = lambda a: np.asarray(a, dtype=np.float64).tolist()
out = {
    "deltas": f(deltas), "samples": f(samples), "norms": f(norms), "clip": clip,
    "mean": f(mean), "trimFraction": 0.2, "trimmed": f(trimmed),
    "centre": f(centre), "tau": tau, "centred": f(cc), "tau0": tau0, "centredZero": f(cc0),
    "p0": f(p0), "outerDeltas": f(outer_deltas), "nesterov": nesterov, "heavyBall": heavy_ball,
}
path = os.path.join(os.path.dirname(__file__), "fixtures", "aggregate.json")
with open(path, "w") as fh:
    json.dump(out, fh)
print("wrote", path, "clip", clip, "tau", tau)

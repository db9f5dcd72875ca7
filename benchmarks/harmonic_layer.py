"""Forward+backward time of the vectorized HarmonicLayer vs the public per-neuron loop and vs
Linear+ReLU, timed alternately in the same run (medians; read the ratios, not absolute times).

The seed's first layer: 784 -> 512 (max_freq 5) on a batch of 128.

    python benchmarks/harmonic_layer.py [--repeats 15] [--device cpu|cuda] [--threads N]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import torch
from _timing import add_smoke_flag
from torch import nn

from spectral_cli.hmlp.layer import HarmonicLayer


class LoopHarmonicLayer(HarmonicLayer):
    """The public implementation's forward: a Python loop over neurons, then ``torch.stack``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.linear(x)
        cols = [
            torch.sin(2 * math.pi * z[:, i] / self.frequencies[i]) + 0.1 * z[:, i]
            for i in range(z.shape[1])
        ]
        return torch.stack(cols, dim=1)


def fwd_bwd(module: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        module.zero_grad(set_to_none=True)
        module(x).square().mean().backward()
        if x.is_cuda:
            torch.cuda.synchronize()

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--features", type=int, default=784, help="inputs of the layer")
    ap.add_argument("--neurons", type=int, default=512, help="outputs of the layer")
    add_smoke_flag(ap)
    args = ap.parse_args()
    if args.smoke:
        args.repeats, args.batch, args.features, args.neurons = 1, 8, 32, 16
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    torch.manual_seed(0)
    n_in, n_out = args.features, args.neurons
    x = torch.randn(args.batch, n_in, device=dev)
    vec = HarmonicLayer(n_in, n_out, 1.0, 5.0).to(dev)
    loop = LoopHarmonicLayer(n_in, n_out, 1.0, 5.0).to(dev)
    loop.load_state_dict(vec.state_dict())
    relu = HarmonicLayer(n_in, n_out, 1.0, 5.0, activation="relu").to(dev)
    with torch.no_grad():
        assert torch.allclose(vec(x), loop(x), atol=1e-5)
    fns = {
        "vectorized": fwd_bwd(vec, x),
        "loop (public)": fwd_bwd(loop, x),
        "relu": fwd_bwd(relu, x),
    }
    for fn in fns.values():
        fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(args.repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(s) for name, s in samples.items()}
    for name, t in med.items():
        print(f"{name:>14}: {t * 1e3:8.3f} ms  ({t / med['vectorized']:.2f}x vectorized)")
    speedup = med["loop (public)"] / med["vectorized"]
    print(f"speed-up of vectorized over the per-neuron loop: {speedup:.1f}x")


if __name__ == "__main__":
    main()

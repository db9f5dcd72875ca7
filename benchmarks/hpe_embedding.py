"""Forward+backward time of HarmonicEmbedding vs nn.Embedding, timed in the same run.

Two scales: the seed's (V=256, D=64, K=13, a 256 x 40 batch) and a language-model one
(V=50,000, D=512, K=16, 8,192 tokens drawn from a Zipf-like distribution, as real text is, and
uniformly, the worst case for the ``rows`` strategy). Timings alternate between the contenders
and report medians, so machine noise hits both; the ratio is what to read, not absolute times.

    python benchmarks/hpe_embedding.py [--repeats 15] [--device cpu|cuda] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from spectral_cli.embeddings.hpe import HarmonicEmbedding


def fwd_bwd(module: nn.Module, tokens: torch.Tensor, grad: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        module.zero_grad(set_to_none=True)
        module(tokens).backward(grad)
        if tokens.is_cuda:
            torch.cuda.synchronize()

    return run


def time_alternating(fns: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    for fn in fns.values():  # warm-up
        fn()
        fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return {name: statistics.median(s) for name, s in samples.items()}


def scenario(
    title: str, v: int, d: int, k: int, tokens: torch.Tensor, repeats: int, device: str
) -> None:
    tokens = tokens.to(device)
    grad = torch.randn(*tokens.shape, d, device=device)
    torch.manual_seed(0)
    contenders: dict[str, nn.Module] = {"nn.Embedding": nn.Embedding(v, d)}
    for strategy in ("auto", "table", "rows"):
        contenders[f"HPE[{strategy}]"] = HarmonicEmbedding(v, d, k, strategy=strategy)
    fns = {name: fwd_bwd(m.to(device), tokens, grad) for name, m in contenders.items()}
    times = time_alternating(fns, repeats)
    base = times["nn.Embedding"]
    hpe = contenders["HPE[auto]"]
    assert isinstance(hpe, HarmonicEmbedding)
    unique = int(torch.unique(tokens).numel())
    print(
        f"\n{title}: V={v} D={d} K={k} tokens={tokens.numel()} unique={unique} "
        f"(auto -> {hpe.resolve_strategy(tokens.numel())})"
    )
    for name, t in times.items():
        print(f"  {name:16s} {t * 1e3:9.3f} ms   ratio vs nn.Embedding {t / base:8.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__} on {args.device}, {torch.get_num_threads()} threads")
    g = torch.Generator().manual_seed(0)
    scenario(
        "seed scale",
        256,
        64,
        13,
        torch.randint(0, 256, (256, 40), generator=g),
        args.repeats,
        args.device,
    )
    v = 50_000
    ranks = torch.arange(1, v + 1, dtype=torch.float64)
    zipf = torch.multinomial(1.0 / ranks, 8192, replacement=True, generator=g)
    scenario("LM scale, Zipf tokens", v, 512, 16, zipf, max(3, args.repeats // 3), args.device)
    uniform = torch.randint(0, v, (8192,), generator=g)
    scenario(
        "LM scale, uniform tokens", v, 512, 16, uniform, max(3, args.repeats // 3), args.device
    )


if __name__ == "__main__":
    main()

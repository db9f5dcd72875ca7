"""Forward+backward time of HarmonicEmbedding vs nn.Embedding, timed in the same run.

Two scales: the seed's (V=256, D=64, K=13, a 256 x 40 batch) and a language-model one
(V=50,000, D=512, K=16, 8,192 tokens drawn from a Zipf-like distribution, as real text is, and
uniformly, the worst case for the ``rows`` strategy). Each scale times three contenders on the
same tokens and output gradient: ``nn.Embedding`` (the baseline every ratio is against),
``HPE[reference]`` (K*D sines per row, the second baseline), ``HPE[fast]`` (the default: angle
addition, analytic backward) and, unless ``--no-compile``, ``HPE[fast+compile]`` (the same with
its element-wise stages through ``torch.compile``; compiled during the warm-up, not timed), all
with ``strategy="auto"``. Timings alternate between the contenders and report medians, so machine
noise hits all of them; the ratios are what to read, not absolute times.

At the language-model scale ``nn.Embedding``'s backward allocates and zero-fills a dense
V x D = 100 MB gradient every step; its time is mostly first-touch page faults, so it depends on
the allocator and the kernel (how much of that memory is recycled), not only on the CPU.

    python benchmarks/hpe_embedding.py [--repeats 15] [--device cpu|cuda] [--threads N]
                                       [--no-compile]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
from _timing import time_alternating  # noqa: E402 - benchmarks/ helper
from torch import nn

from spectral_cli.embeddings.hpe import HarmonicEmbedding


def fwd_bwd(module: nn.Module, tokens: torch.Tensor, grad: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        module.zero_grad(set_to_none=True)
        module(tokens).backward(grad)
        if tokens.is_cuda:
            torch.cuda.synchronize()

    return run


def scenario(
    title: str,
    v: int,
    d: int,
    k: int,
    tokens: torch.Tensor,
    repeats: int,
    device: str,
    compiled: bool,
) -> dict[str, float]:
    tokens = tokens.to(device)
    grad = torch.randn(*tokens.shape, d, device=device)
    torch.manual_seed(0)
    contenders: dict[str, nn.Module] = {"nn.Embedding": nn.Embedding(v, d)}
    variants = {"HPE[reference]": ("reference", False), "HPE[fast]": ("fast", False)}
    if compiled:
        variants["HPE[fast+compile]"] = ("fast", True)
    for name, (impl, comp) in variants.items():
        torch.manual_seed(1)  # same parameters for every implementation
        contenders[name] = HarmonicEmbedding(v, d, k, impl=impl, compiled=comp)
    fns = {name: fwd_bwd(m.to(device), tokens, grad) for name, m in contenders.items()}
    times = time_alternating(fns, repeats)
    base, ref = times["nn.Embedding"], times["HPE[reference]"]
    hpe = contenders["HPE[fast]"]
    assert isinstance(hpe, HarmonicEmbedding)
    unique = int(torch.unique(tokens).numel())
    print(
        f"\n{title}: V={v} D={d} K={k} tokens={tokens.numel()} unique={unique} "
        f"(auto -> {hpe.resolve_strategy(tokens.numel())}), median of {repeats}"
    )
    for name, t in times.items():
        print(
            f"  {name:18s} {t * 1e3:9.3f} ms   vs nn.Embedding {t / base:6.2f}x"
            f"   vs HPE[reference] {t / ref:6.3f}x"
        )
    return {name: t / base for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    parser.add_argument(
        "--no-compile", action="store_true", help="skip the HPE[fast+compile] contender"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__} on {args.device}, {torch.get_num_threads()} threads")
    g = torch.Generator().manual_seed(0)
    ratios = {}
    ratios["seed scale"] = scenario(
        "seed scale",
        256,
        64,
        13,
        torch.randint(0, 256, (256, 40), generator=g),
        args.repeats,
        args.device,
        not args.no_compile,
    )
    v = 50_000
    lm_repeats = max(3, args.repeats // 3)
    ranks = torch.arange(1, v + 1, dtype=torch.float64)
    zipf = torch.multinomial(1.0 / ranks, 8192, replacement=True, generator=g)
    ratios["LM, Zipf"] = scenario(
        "LM scale, Zipf tokens", v, 512, 16, zipf, lm_repeats, args.device, not args.no_compile
    )
    uniform = torch.randint(0, v, (8192,), generator=g)
    ratios["LM, uniform"] = scenario(
        "LM scale, uniform tokens",
        v,
        512,
        16,
        uniform,
        lm_repeats,
        args.device,
        not args.no_compile,
    )
    print()
    for contender in ratios["seed scale"]:
        if contender.startswith("HPE"):
            print(f"{contender} / nn.Embedding: " + ", ".join(
                f"{name} {r[contender]:.2f}x" for name, r in ratios.items()
            ))


if __name__ == "__main__":
    main()

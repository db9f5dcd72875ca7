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
the allocator and the kernel (how much of that memory is recycled), not only on the CPU. The
time of that ``zeros(V, D)`` alone is printed with each scale.

``--runs N`` repeats the whole measurement N times in the same process and prints the median,
minimum and maximum of each ratio over the runs (the spread a single run hides).

    python benchmarks/hpe_embedding.py [--repeats 15] [--runs 1] [--device cpu|cuda]
                                       [--threads N] [--no-compile] [--no-reference]
                                       [--scales seed,zipf,uniform]
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable

import torch
from _timing import add_smoke_flag, alternating_samples
from torch import nn

from spectral_cli.embeddings.hpe import HarmonicEmbedding

DENSE = "zeros(V, D)"  # the dense gradient nn.Embedding's backward allocates and fills


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
    args: argparse.Namespace,
) -> dict[str, float]:
    """Times the contenders on one scale; returns each one's wall time relative to
    nn.Embedding's."""
    device = args.device
    tokens = tokens.to(device)
    grad = torch.randn(*tokens.shape, d, device=device)
    torch.manual_seed(0)
    contenders: dict[str, nn.Module] = {"nn.Embedding": nn.Embedding(v, d)}
    variants = {"HPE[fast]": ("fast", False)}
    if not args.no_reference:
        variants = {"HPE[reference]": ("reference", False), **variants}
    if not args.no_compile:
        variants["HPE[fast+compile]"] = ("fast", True)
    for name, (impl, comp) in variants.items():
        torch.manual_seed(1)  # same parameters for every implementation
        contenders[name] = HarmonicEmbedding(v, d, k, impl=impl, compiled=comp)
    fns: dict[str, Callable[[], object]] = {
        name: fwd_bwd(m.to(device), tokens, grad) for name, m in contenders.items()
    }
    fns[DENSE] = lambda: torch.zeros(v, d, device=device)
    samples = alternating_samples(fns, repeats)
    times = {
        name: (statistics.median(w for w, _ in x), statistics.median(c for _, c in x))
        for name, x in samples.items()
    }
    dense = times.pop(DENSE)
    base, base_cpu = times["nn.Embedding"]
    hpe = contenders["HPE[fast]"]
    assert isinstance(hpe, HarmonicEmbedding)
    unique = int(torch.unique(tokens).numel())
    print(
        f"\n{title}: V={v} D={d} K={k} tokens={tokens.numel()} unique={unique} "
        f"(auto -> {hpe.resolve_strategy(tokens.numel())}), median of {repeats}"
    )
    for name, (t, c) in times.items():
        print(
            f"  {name:18s} wall {t * 1e3:9.3f} ms {t / base:6.2f}x"
            f"   CPU {c * 1e3:9.3f} ms {c / base_cpu:6.2f}x   (x: vs nn.Embedding)"
        )
    print(f"  ({DENSE}, inside nn.Embedding's backward: {dense[0] * 1e3:.3f} ms)")
    return {name: t / base for name, (t, _) in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--runs", type=int, default=1, help="whole measurements, for the spread")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    parser.add_argument(
        "--no-compile", action="store_true", help="skip the HPE[fast+compile] contender"
    )
    parser.add_argument(
        "--no-reference", action="store_true", help="skip the (slow) HPE[reference] contender"
    )
    parser.add_argument("--scales", default="seed,zipf,uniform", help="comma-separated subset")
    parser.add_argument("--lm-vocab", type=int, default=50_000, help="V at LM scale")
    parser.add_argument("--lm-dim", type=int, default=512, help="D at LM scale")
    parser.add_argument("--lm-tokens", type=int, default=8192, help="tokens per batch at LM scale")
    add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:  # no torch.compile contender: compiling alone takes tens of seconds
        args.repeats, args.no_compile, args.device = 1, True, "cpu"
        args.lm_vocab, args.lm_dim, args.lm_tokens = 500, 16, 64
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__} on {args.device}, {torch.get_num_threads()} threads")
    v = args.lm_vocab
    g = torch.Generator().manual_seed(0)
    seed_tokens = torch.randint(0, 256, (256, 40), generator=g)
    ranks = torch.arange(1, v + 1, dtype=torch.float64)
    zipf = torch.multinomial(1.0 / ranks, args.lm_tokens, replacement=True, generator=g)
    uniform = torch.randint(0, v, (args.lm_tokens,), generator=g)
    lm_repeats = 1 if args.smoke else max(3, args.repeats // 3)
    cases = {
        "seed": ("seed scale", 256, 64, 13, seed_tokens, args.repeats),
        "zipf": ("LM scale, Zipf tokens", v, args.lm_dim, 16, zipf, lm_repeats),
        "uniform": ("LM scale, uniform tokens", v, args.lm_dim, 16, uniform, lm_repeats),
    }
    runs: list[dict[str, dict[str, float]]] = []
    for run in range(args.runs):
        if args.runs > 1:
            print(f"\n=== run {run + 1} of {args.runs}")
        runs.append({cases[key][0]: scenario(*cases[key], args) for key in args.scales.split(",")})
    print()
    for contender in runs[0][next(iter(runs[0]))]:
        if not contender.startswith("HPE"):
            continue
        parts = []
        for name in runs[0]:
            r = [run[name][contender] for run in runs]
            spread = f" (min {min(r):.2f}, max {max(r):.2f})" if len(r) > 1 else ""
            parts.append(f"{name} {statistics.median(r):.2f}x{spread}")
        print(f"{contender} / nn.Embedding (wall): " + ", ".join(parts))


if __name__ == "__main__":
    main()

"""Benchmark: empirical NTK, structured MLP path vs ``vmap(jacrev)`` vs a per-sample autograd loop.

Run from the repository root: ``python benchmarks/ntk.py`` (N in {256, 1024}, width 512, depth 4,
float32 and float64; a few minutes on 2 cores) or ``python benchmarks/ntk.py --quick``.

All three methods run in this process on the same model and inputs (toy Fourier features of random
points in [0, 1), ``--m`` frequencies -> ``2m`` input features; NTK parameterization), on CPU with
torch's current thread count (``--threads`` to change it). Times: structured is the fastest of
``2 --repeats`` calls (after a warm-up; half before, half after the baselines, as the machine is
shared); jacrev and the loop are timed once (after a warm-up on 8 points), as they take seconds
to minutes. Ratios are ``time(method) / time(structured)``; the
results are checked to agree (max |difference| / max |K|).

Peak memory: the increase of the process's peak resident set size (Linux ``VmHWM``, reset before
each call by writing 5 to ``/proc/self/clear_refs`` after ``malloc_trim``) over the resident size
at the call's start. torch's CPU tensors come from ``malloc``, which ``tracemalloc`` does not see,
so RSS is the honest measure; it includes the output kernel and every temporary.
"""

from __future__ import annotations

import argparse
import ctypes
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from _timing import add_smoke_flag  # noqa: E402

from spectral_cli.ntk.empirical import (  # noqa: E402
    ntk_autograd_loop,
    ntk_jacrev,
    ntk_structured,
)
from spectral_cli.ntk.encodings import make_encoding  # noqa: E402
from spectral_cli.ntk.mlp import NTKMLP  # noqa: E402

METHODS: dict[str, Callable[[NTKMLP, torch.Tensor], torch.Tensor]] = {
    "structured": ntk_structured,
    "vmap(jacrev)": ntk_jacrev,
    "autograd loop": ntk_autograd_loop,
}


def _kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> int | None:
    """Trim the heap, reset VmHWM to the current RSS and return that RSS (KiB), or None."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return None
    return _kib("VmRSS")


def measure(
    fn: Callable[[], torch.Tensor], repeats: int
) -> tuple[float, float | None, torch.Tensor]:
    """(best seconds, peak RSS increase in MiB or None, result).

    With ``repeats > 1`` the timed calls run undisturbed and one more call measures memory (the
    heap trim before a memory measurement makes the next call page its memory in afresh); with
    ``repeats == 1`` (the slow baselines) one call gives both.
    """
    best = float("inf")
    out = torch.empty(0)
    for _ in range(repeats if repeats > 1 else 0):
        out = torch.empty(0)
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    out = torch.empty(0)
    start_rss = _reset_peak()
    t0 = time.perf_counter()
    out = fn()
    if repeats <= 1:
        best = time.perf_counter() - t0
    hwm = _kib("VmHWM")
    peak = (hwm - start_rss) / 1024 if start_rss is not None and hwm is not None else None
    return best, peak, out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--m", type=int, default=16, help="toy Fourier frequencies (2m inputs)")
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--repeats", type=int, default=3, help="structured path: best of 2R")
    parser.add_argument("--skip", nargs="*", default=[], choices=["jacrev", "loop"])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="N in {64, 128}, width 128")
    add_smoke_flag(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.width = [64, 128], 128
    if args.smoke:
        args.n, args.width, args.depth, args.m, args.repeats = [8], 8, 2, 2, 1
    if args.threads:
        torch.set_num_threads(args.threads)
    methods = {
        k: v
        for k, v in METHODS.items()
        if not (k == "vmap(jacrev)" and "jacrev" in args.skip)
        and not (k == "autograd loop" and "loop" in args.skip)
    }
    enc = make_encoding("toy", 1, m=args.m, p=1.0)
    print(
        f"empirical NTK benchmark: ReLU MLP width {args.width}, depth {args.depth}, "
        f"{enc.out_features} inputs, NTK parameterization; torch {torch.__version__}, "
        f"CPU, {torch.get_num_threads()} threads"
    )
    print("peak = increase of peak RSS during the call (VmHWM), MiB")
    header = f"{'N':>6} {'dtype':>8} {'method':>14} {'time s':>10} {'ratio':>9} {'peak MiB':>10}"
    print(header + f" {'max|dK|/max|K|':>15}")
    summary: list[str] = []
    for dtype_name in args.dtypes:
        dtype = getattr(torch, dtype_name)
        gen = torch.Generator().manual_seed(0)
        model = NTKMLP(
            enc.out_features, args.width, args.depth, "ntk", 2**0.5, 0.1, generator=gen, dtype=dtype
        )
        n_params = sum(p.numel() for p in model.parameters())
        for fn in methods.values():  # warm-up (vmap/jacrev tracing, allocator)
            fn(model, enc(torch.rand(8, generator=gen)).to(dtype))
        for n in args.n:
            x = enc(torch.rand(n, generator=gen, dtype=torch.float64)).to(dtype)
            call = {name: (lambda fn=fn, m=model, x=x: fn(m, x)) for name, fn in methods.items()}
            rows: dict[str, tuple[float, float | None, float]] = {}
            ref: torch.Tensor | None = None
            for name in methods:
                reps = args.repeats if name == "structured" else 1
                seconds, peak, K = measure(call[name], reps)
                if ref is None:
                    ref = K
                rows[name] = (seconds, peak, float((K - ref).abs().max() / ref.abs().max()))
                del K
            # the box is shared: time the fast path again after the slow ones, keep the best
            again = measure(call["structured"], args.repeats)[0]
            rows["structured"] = (min(again, rows["structured"][0]), *rows["structured"][1:])
            times = {name: row[0] for name, row in rows.items()}
            for name, (seconds, peak, err) in rows.items():
                peak_s = f"{peak:10.1f}" if peak is not None else f"{'n/a':>10}"
                print(
                    f"{n:6d} {dtype_name:>8} {name:>14} {seconds:10.4f} "
                    f"{seconds / times['structured']:8.1f}x {peak_s} {err:15.2e}",
                    flush=True,
                )
            if "vmap(jacrev)" in times:
                summary.append(
                    f"  N={n} {dtype_name}: structured is "
                    f"{times['vmap(jacrev)'] / times['structured']:.0f}x faster than "
                    f"vmap(jacrev) (P = {n_params:,} parameters)"
                )
    print("summary (goal: >= 40x at N=1024):")
    print("\n".join(summary))


if __name__ == "__main__":
    main()

"""Benchmark: accuracy and cost of the exact spectra-LSTM (issue 7) against ``torch.fft``.

Run from the repository root: ``python benchmarks/spectra_lstm.py [--windows 16] [--repeats 3]``.

For each window ``T`` in {8, 16, 32, 64, 128} and dtype (float64, float32) it constructs the cell,
runs a batch of test signals through it (N(0,1) noise at amplitudes 1e-3, 1 and 1e3 and a sum of
sinusoids, ``--windows`` windows each) and prints the worst relative error
``max_k |P^ - P| / max_k P`` over all windows against float64 ``torch.fft`` spectra, beside the
figures the issue measured on the seed's public implementation (wavebase).  It then times the cell
(``spectrogram``: the recurrent loop, one step per sample) against the baseline, a
``torch.fft.fft`` power spectrum of the same 1-D signal, both best of ``--repeats`` in this process
with the same thread count (``--threads``, default 1), and prints the ratio.  The cell is an RNN
evaluated step by step, so it is expected to be orders of magnitude slower than an FFT: the point
of the construction is exactness, not speed.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

import torch  # noqa: E402
from _timing import add_smoke_flag, best_time  # noqa: E402

from spectral_cli.spectra_lstm.reference import (  # noqa: E402
    construct,
    reference_spectra,
    spectrogram,
)

WAVEBASE = {8: "0.5%", 16: "1%", 32: "3-4%", 64: "3-4%", 128: "8-12%"}  # from issue 7
AMPLITUDES = (1e-3, 1.0, 1e3)


def signals(T: int, windows: int, seed: int) -> torch.Tensor:
    """[len(AMPLITUDES) + 1, windows * T] float64 test signals."""
    g = torch.Generator().manual_seed(seed)
    n = windows * T
    noise = [a * torch.randn(n, generator=g, dtype=torch.float64) for a in AMPLITUDES]
    t = torch.arange(n, dtype=torch.float64)
    sines = sum(
        a * torch.cos(2 * math.pi * f * t / T + p)
        for a, f, p in ((1.0, 1.0, 0.3), (0.3, 2.5, 1.1), (1e-3, T / 2 - 0.25, 2.0))
    )
    return torch.stack([*noise, sines])


def worst_error(est: torch.Tensor, ref: torch.Tensor) -> float:
    err = (est.double() - ref).abs().amax(dim=-1) / ref.amax(dim=-1)
    return float(err.max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="intra-op threads for both sides (the cell's step loop uses 1)",
    )
    parser.add_argument(
        "--window-sizes", type=int, nargs="+", default=[8, 16, 32, 64, 128], help="T values"
    )
    add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.windows, args.repeats, args.window_sizes = 2, 1, [8]
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"{args.windows} windows per signal; signals: N(0,1) x {AMPLITUDES} and sines"
    )
    head = (
        f"{'T':>4} {'H':>4}  {'err float64':>11} {'err float32':>11}  {'wavebase':>8}  "
        f"{'cell f64 ms':>11} {'fft ms':>8} {'ratio':>8}"
    )
    print(head)
    print("-" * len(head))
    for T in args.window_sizes:
        x = signals(T, args.windows, args.seed + T)
        ref = reference_spectra(x, T)
        errs = {}
        for dtype in (torch.float64, torch.float32):
            w = construct(T, dtype)
            errs[dtype] = worst_error(spectrogram(w, x), ref)
        w64, x1 = construct(T, torch.float64), x[1]
        t_cell = best_time(lambda w=w64, x1=x1: spectrogram(w, x1), args.repeats)

        def fft_power(x1: torch.Tensor = x1, T: int = T) -> torch.Tensor:
            X = torch.fft.fft(x1.reshape(-1, T), dim=-1)
            return X.real.square() + X.imag.square()

        t_fft = best_time(fft_power, max(args.repeats, 20))
        print(
            f"{T:>4} {w64.hidden_size:>4}  {errs[torch.float64]:>11.2e} "
            f"{errs[torch.float32]:>11.2e}  {WAVEBASE[T]:>8}  {t_cell * 1e3:>11.1f} "
            f"{t_fft * 1e3:>8.3f} {t_cell / t_fft:>8.0f}x"
        )
    print("targets: float64 <= 1e-12, float32 <= 1e-5 (relative to each window's max P)")


if __name__ == "__main__":
    main()

"""Torch threads on a shared machine: one thread vs torch's default, quiet and under load.

The workload is HPE training at the seed scale (``spectral train hpe``'s model, batches of
256 sequences of 40 tokens, Adam steps). Both thread counts are timed in the same run,
alternating, first on a quiet machine and then with ``--load`` busy-loop processes running
(default: one per core, the situation of a shared CI machine). Prints the median seconds per
step and the ratio default / one thread (above 1: one thread is faster). ``spectral --threads N``
sets the count for any subcommand; a run notes when the load leaves too few free cores.

    python benchmarks/threads.py [--steps 20] [--repeats 5] [--load N] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import torch  # noqa: E402
from _timing import alternating_samples  # noqa: E402

from spectral_cli.core.provenance import cpu_count  # noqa: E402
from spectral_cli.core.registry import get_family  # noqa: E402
from spectral_cli.core.resolve import resolve_train_config  # noqa: E402
from spectral_cli.embeddings.tokens import TokenDataInfo  # noqa: E402


def make_step(batch: int) -> Callable[[], None]:
    """One Adam step of the default HPE model on a random token batch."""
    torch.manual_seed(0)
    family = get_family("hpe")
    cfg = resolve_train_config("hpe", None, [])
    model = family.build(cfg, TokenDataInfo(vocab_size=256, seq_len=40, num_classes=10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randint(0, 256, (batch, 40))
    y = torch.randint(0, 10, (batch,))

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    return step


def measure(step: Callable[[], None], steps: int, repeats: int, default: int) -> dict[str, float]:
    """Median seconds per step at 1 thread and at ``default`` threads (alternating)."""

    def at(threads: int):
        def run() -> None:
            torch.set_num_threads(threads)
            for _ in range(steps):
                step()  # type: ignore[operator]

        return run

    samples = alternating_samples({"1": at(1), str(default): at(default)}, repeats)
    return {k: statistics.median(w for w, _ in v) / steps for k, v in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps per sample")
    parser.add_argument("--repeats", type=int, default=5, help="samples per contender")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--load", type=int, default=None, help="busy processes (default: cores)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (tests)")
    args = parser.parse_args()
    if args.smoke:
        args.steps, args.repeats, args.batch = 1, 1, 8
    default = max(torch.get_num_threads(), int(os.environ.get("SPECTRAL_DEFAULT_THREADS", 0)))
    default = max(default, 2)  # on a 1-core machine still compare against 2 threads
    step = make_step(args.batch)
    print(f"HPE step, batch {args.batch}x40, {cpu_count()} cores, 1 vs {default} threads")
    quiet = measure(step, args.steps, args.repeats, default)
    load = cpu_count() if args.load is None else args.load
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(load)]
    try:
        loaded = measure(step, args.steps, args.repeats, default)
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    for label, times in (("quiet", quiet), (f"{load} busy processes", loaded)):
        one, many = times["1"], times[str(default)]
        print(
            f"{label}: 1 thread {one * 1e3:.1f} ms/step, {default} threads {many * 1e3:.1f} "
            f"ms/step: default/1 = {many / one:.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

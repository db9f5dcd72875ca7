"""Wall time of ``spectral tune`` with 1 vs 2 worker processes on the same budget, same run.

Both settings run the same number of trials (each worker opens the shared SQLite storage and runs
its share); the runs alternate so machine noise hits both. Prints the wall times and the ratio.

    python benchmarks/tune_workers.py [--trials 4] [--epochs 2] [--limit 1000] [--rounds 1]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _timing import add_smoke_flag


def run(workers: int, args: argparse.Namespace, out: Path) -> float:
    cmd = [
        sys.executable,
        "-m",
        "spectral_cli",
        "tune",
        "hpe",
        "--trials",
        str(args.trials),
        "--workers",
        str(workers),
        "--final-seeds",
        "0",
        "--pruner",
        "none",
        "--sampler",
        "random",
        "--set",
        f"train.epochs={args.epochs}",
        "--set",
        f"data.limit={args.limit}",
        "--out",
        str(out),
        "-q",
    ]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=1)
    add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.trials, args.epochs, args.limit, args.rounds = 2, 1, 64, 1
    times: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for workers in (1, 2):
                times[workers].append(run(workers, args, Path(tmp) / f"w{workers}-r{r}"))
    one, two = statistics.median(times[1]), statistics.median(times[2])
    print(f"tune hpe: {args.trials} trials x {args.epochs} epochs on {args.limit} signals")
    print(f"  --workers 1: {one:7.1f} s   --workers 2: {two:7.1f} s   speed-up {one / two:.2f}x")


if __name__ == "__main__":
    main()

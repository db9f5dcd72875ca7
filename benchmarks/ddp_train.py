"""Wall time of ``spectral train`` in one process vs N data-parallel processes (gloo, CPU).

Both settings train the same global batch for the same epochs, timed alternately in the same
run (the machines here are shared: read the ratio, not the absolute seconds). Each rank gets
``cores // N`` torch threads, the single process all of them, so both use the whole machine.

    python benchmarks/ddp_train.py [--family hpe] [--procs 2] [--epochs 3] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from _timing import add_smoke_flag


def run(family: str, procs: int, epochs: int, extra: list[str]) -> float:
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            sys.executable,
            "-m",
            "spectral_cli",
            "train",
            family,
            "--set",
            f"train.epochs={epochs}",
            *extra,
            "--device",
            "cpu",
            "--out",
            f"{tmp}/run",
            "-q",
        ]
        started = time.perf_counter()
        if procs == 1:
            env = {**os.environ, "OMP_NUM_THREADS": str(cores)}
            subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL)
        else:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            children = []
            for rank in range(procs):
                env = {
                    **os.environ,
                    "OMP_NUM_THREADS": str(max(1, cores // procs)),
                    "RANK": str(rank),
                    "LOCAL_RANK": str(rank),
                    "WORLD_SIZE": str(procs),
                    "MASTER_ADDR": "127.0.0.1",
                    "MASTER_PORT": str(port),
                }
                children.append(subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL))
            if any(c.wait() != 0 for c in children):
                raise SystemExit("a rank failed")
        return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", default="hpe")
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--set", dest="sets", action="append", default=[])
    add_smoke_flag(ap)
    a = ap.parse_args()
    if a.smoke:
        a.epochs, a.repeats = 1, 1
        a.sets += ["data.limit=96", "train.batch_size=32"]
    extra = [x for s in a.sets for x in ("--set", s)]
    single, multi = [], []
    for _ in range(a.repeats):  # alternate, so machine noise hits both
        single.append(run(a.family, 1, a.epochs, extra))
        multi.append(run(a.family, a.procs, a.epochs, extra))
    s, m = statistics.median(single), statistics.median(multi)
    print(
        f"spectral train {a.family}, {a.epochs} epochs, same global batch, "
        f"{os.cpu_count()} cores, medians of {a.repeats}"
    )
    print(f"  1 process         : {s:7.1f} s  (runs: {', '.join(f'{t:.1f}' for t in single)})")
    runs = ", ".join(f"{t:.1f}" for t in multi)
    print(f"  {a.procs} processes (gloo): {m:7.1f} s  (runs: {runs})")
    print(f"  ratio {a.procs}-process / 1-process wall time: {m / s:.2f}x")


if __name__ == "__main__":
    main()

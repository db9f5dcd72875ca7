"""Worker scaling of ``spectral tune`` on PostgreSQL: 1 vs 2 tune processes, one shared study.

Starts its own throwaway PostgreSQL server (``tests/tuning/pg_server.py``: initdb + pg_ctl in a
temporary directory, Unix socket only, as ``nobody`` when run as root; stopped at the end), then
runs the same total number of trials as one ``spectral tune`` process and as two processes that
share one study (as two machines of a team would; here on one machine, so each of the two gets
half the cores through OMP_NUM_THREADS). Every setting gets a fresh study; the settings alternate
over ``--rounds`` so machine noise hits both. Prints the wall times, the ratio, the CPU seconds
the tune processes used (on a shared, overloaded machine more processes also get a larger share
of the cores, so the wall ratio can exceed the process count; equal CPU seconds for 1 and 2
processes mean the shared study costs no extra work) and checks each study (all COMPLETE, none
twice).

    python benchmarks/tune_postgres.py [--trials 6] [--epochs 4] [--limit 1000] [--rounds 1]
                                       [--threads N]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "tuning"))

from _timing import add_smoke_flag, skip
from pg_server import PgServer, PgUnavailable


def tune(url: str, study: str, trials: int, out: Path, threads: int, args: argparse.Namespace):
    cmd = [
        sys.executable,
        "-m",
        "spectral_cli",
        "tune",
        args.family,
        "--storage",
        url,
        "--study-name",
        study,
        "--trials",
        str(trials),
        "--final-seeds",
        "0",
        "--pruner",
        "none",
        "--sampler",
        "random",
        "--device",
        "cpu",
        "--set",
        f"train.epochs={args.epochs}",
        "--set",
        f"data.limit={args.limit}",
        "--out",
        str(out),
        "-q",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(
    processes: int, url: str, study: str, tmp: Path, args: argparse.Namespace
) -> tuple[float, float]:
    cores = os.cpu_count() or 1
    threads = args.threads or max(1, cores // processes)
    shares = [args.trials // processes + (i < args.trials % processes) for i in range(processes)]
    t0, cpu0 = time.perf_counter(), children_cpu()
    procs = [tune(url, study, n, tmp / f"{study}-{i}", threads, args) for i, n in enumerate(shares)]
    codes = [p.wait() for p in procs]
    elapsed, cpu = time.perf_counter() - t0, children_cpu() - cpu0
    if any(codes):
        raise SystemExit(f"a tune process failed: exit codes {codes}")
    return elapsed, cpu


def check(url: str, study: str, expected: int, family: str) -> str:
    import optuna

    storage = optuna.storages.RDBStorage(url)
    trials = optuna.load_study(study_name=f"{study}-{family}", storage=storage).trials
    storage.engine.dispose()
    numbers = sorted(t.number for t in trials)
    complete = sum(t.state.name == "COMPLETE" for t in trials)
    if numbers != list(range(expected)) or complete != expected:
        states = [
            (t.number, t.state.name, t.system_attrs.get("fail_reason", "")[-300:])
            for t in trials
            if t.state.name != "COMPLETE"
        ]
        raise SystemExit(
            f"study {study}: {len(trials)} trials, {complete} complete, "
            f"numbers {numbers}; expected {expected}; not complete: {states}"
        )
    return f"{complete}/{expected} complete"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--family", default="hpe")
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads per process (default: the cores split evenly)",
    )
    add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.trials, args.epochs, args.limit, args.rounds = 2, 1, 64, 1
    times: dict[int, list[float]] = {1: [], 2: []}
    cpus: dict[int, list[float]] = {1: [], 2: []}
    try:
        server = PgServer.start()
    except PgUnavailable as exc:
        skip(f"cannot start a throwaway PostgreSQL server: {exc}")
    with server as pg, tempfile.TemporaryDirectory() as tmp:
        url = pg.url("spectral")
        for r in range(args.rounds):
            for processes in (1, 2) if r % 2 == 0 else (2, 1):
                study = f"bench-p{processes}-r{r}"
                wall, cpu = run(processes, url, study, Path(tmp), args)
                times[processes].append(wall)
                cpus[processes].append(cpu)
                print(
                    f"  round {r}: {processes} process(es) {wall:7.1f} s wall, {cpu:7.1f} s "
                    f"CPU, {check(url, study, args.trials, args.family)}",
                    flush=True,
                )
    one, two = statistics.median(times[1]), statistics.median(times[2])
    print(
        f"tune {args.family} on PostgreSQL: {args.trials} trials x {args.epochs} epochs on "
        f"{args.limit} signals, {os.cpu_count()} cores, threads per process "
        f"{args.threads or 'cores/processes'}, {args.rounds} round(s), median"
    )
    print(f"  1 process: {one:7.1f} s   2 processes: {two:7.1f} s   speed-up {one / two:.2f}x")
    c1, c2 = statistics.median(cpus[1]), statistics.median(cpus[2])
    print(f"  CPU seconds: 1 process {c1:7.1f}   2 processes {c2:7.1f}   ratio {c2 / c1:.2f}")


if __name__ == "__main__":
    main()

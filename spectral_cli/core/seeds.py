"""Multi-seed runs: ``spectral train FAMILY --seeds 0-4 --out OUT``.

Each seed trains into ``OUT/seed-<n>/``, a complete run directory; one lock on ``OUT`` covers
them all. ``--resume`` continues the unfinished seeds (a finished seed is kept as it is, a cut
one resumes from its state, a missing one starts). Then ``OUT/summary.json`` and
``OUT/summary.md`` give, per metric of the runs' primary model (and of every further model), n,
mean, sample standard deviation, the 95 % t-interval of the mean (clipped to the metric's
range), min and max (:mod:`spectral_cli.core.stats`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from pydantic import Field

from spectral_cli.core.errors import BadInput
from spectral_cli.core.evaluation import Observer, SilentObserver
from spectral_cli.core.pipeline import run_experiment
from spectral_cli.core.report import Report, TrainReport
from spectral_cli.core.runs import RunDir
from spectral_cli.core.schema import RunConfig
from spectral_cli.core.signals import StopFlag
from spectral_cli.core.stats import Summary, summarize

SUMMARY_JSON, SUMMARY_MD = "summary.json", "summary.md"
MAX_SEEDS = 1000


def parse_seeds(spec: str) -> list[int]:
    """``"0-4"`` -> [0, 1, 2, 3, 4]; ``"0,3,7"``; ranges and items mix (``"0-2,9"``)."""
    seeds: list[int] = []
    for item in spec.split(","):
        match = re.fullmatch(r"\s*(\d{1,10})\s*(?:-\s*(\d{1,10})\s*)?", item)
        if match is None:
            raise BadInput(f"--seeds {spec!r}: use a range like 0-4 or a list like 0,3,7")
        low, high = int(match[1]), int(match[2] or match[1])
        if high < low:
            raise BadInput(f"--seeds {spec!r}: the range {low}-{high} is empty")
        if high >= 2**32 or high - low >= MAX_SEEDS:
            raise BadInput(f"--seeds {spec!r}: seeds are below 2^32, at most {MAX_SEEDS} of them")
        seeds += range(low, high + 1)
    if len(set(seeds)) != len(seeds):
        raise BadInput(f"--seeds {spec!r} names a seed twice")
    if len(seeds) > MAX_SEEDS:
        raise BadInput(f"--seeds {spec!r}: at most {MAX_SEEDS} seeds")
    return seeds


def seed_dir(out: Path, seed: int) -> Path:
    return out / f"seed-{seed}"


class SeedsReport(Report):
    """``summary.json`` of a multi-seed run."""

    command: str = "train --seeds"
    family: str
    seeds: list[int]
    runs: dict[str, str]  # seed -> run directory, relative to the multi-seed directory
    metrics: dict[str, Summary]  # the primary model's metrics over seeds
    models: dict[str, dict[str, Summary]] = Field(default_factory=dict)
    resumed_seeds: list[int] = Field(default_factory=list)

    def summary(self) -> str:
        shown = [
            f"{name.replace('_', ' ')} {s.mean:.4g} ± {s.std:.2g}"
            for name, s in self.metrics.items()
            if name.startswith("test_")
        ][:3] or ["test n/a"]
        return f"{self.family} over {len(self.seeds)} seeds: {', '.join(shown)} (mean ± sd)"


def _over(reports: list[TrainReport], pick: Callable[[TrainReport], dict[str, Any]]) -> dict:
    """Per metric (those of the first report with a value): its summary over the reports."""
    out = {}
    for name, first in pick(reports[0]).items():
        if first is None:
            continue
        values = [pick(r).get(name) for r in reports]
        out[name] = summarize([float(v) for v in values if v is not None], name)
    return out


def summarize_runs(reports: list[TrainReport]) -> tuple[dict[str, Summary], dict[str, Any]]:
    """The primary model's metrics over the seeds, and per model of the run."""

    def model_metrics(name: str) -> Callable[[TrainReport], dict[str, Any]]:
        return lambda r: r.models[name].metrics

    models = {m: _over(reports, model_metrics(m)) for m in reports[0].models}
    return _over(reports, lambda r: r.metrics), models


def markdown(report: SeedsReport) -> str:
    """``summary.md``: one table per model (one table for a one-model run)."""
    seeds = ", ".join(map(str, report.seeds))
    lines = [f"# {report.family}: {len(report.seeds)} seeds ({seeds})"]
    for model, metrics in (report.models or {report.family: report.metrics}).items():
        if report.models:
            lines += ["", f"## {model}"]
        lines += [
            "",
            "| metric | n | mean | sd | 95 % CI | min | max |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, m in metrics.items():
            ci = "n/a" if m.ci95_low is None else f"{m.ci95_low:.4g} … {m.ci95_high:.4g}"
            lines.append(
                f"| {name} | {m.n} | {m.mean:.4g} | {m.std:.3g} | {ci} | {m.min:.4g} | "
                f"{m.max:.4g} |"
            )
    return "\n".join(lines) + "\n"


def train_seeds(
    config_for: Callable[[int], RunConfig],
    seeds: list[int],
    out: RunDir,
    device: torch.device,
    *,
    resume: bool = False,
    observer: Observer | None = None,
    stop: StopFlag | None = None,
    loggers: tuple[str, ...] = (),
    plots: bool = True,
) -> SeedsReport:
    """Train ``config_for(seed)`` for every seed into ``out/seed-<n>``; write the summary
    (``plots=False``: no figures in the seeds' runs)."""
    observer = observer or SilentObserver()
    reports: dict[int, TrainReport] = {}
    resumed = []
    for seed in seeds:
        run = RunDir(seed_dir(out.path, seed))
        again = resume and (run / RunDir.STATE).is_file()
        if again:
            resumed.append(seed)
        observer.log(f"seed {seed} ({len(reports) + 1}/{len(seeds)}) -> {run}")
        cfg = config_for(seed)
        reports[seed] = run_experiment(
            cfg,
            run,
            device,
            resume=again,
            observer=observer,
            stop=stop,
            loggers=loggers,
            plots_enabled=plots,
        )
    metrics, models = summarize_runs(list(reports.values()))
    first = reports[seeds[0]]
    report = SeedsReport(
        config=first.config,
        seed=seeds[0],
        device=str(device),
        family=first.family,
        seeds=seeds,
        runs={str(s): seed_dir(Path("."), s).as_posix() for s in seeds},
        metrics=metrics,
        models=models if len(models) > 1 else {},
        resumed_seeds=resumed,
    )
    out.write_text(SUMMARY_JSON, report.model_dump_json(indent=2) + "\n")
    out.write_text(SUMMARY_MD, markdown(report))
    return report

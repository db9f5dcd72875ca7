"""``spectral compare``: runs against runs, metric by metric, with honest statistics.

A *side* is one argument: a run directory (its ``report.json``), a multi-seed directory
(``train --seeds``: every ``seed-<n>/report.json`` in it) or a glob matching run directories.
For every two sides and every metric both report (the primary model's final metrics), the
difference of means with its 95 % interval, Welch's t-test, or the paired t-test when both sides
hold the same seeds, and a direction-aware verdict; fewer than three seeds on a side is
"inconclusive" (:mod:`spectral_cli.core.stats`).
"""

from __future__ import annotations

import glob
import itertools
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from spectral_cli.core.arrays import parse_json
from spectral_cli.core.errors import BadInput
from spectral_cli.core.report import REPORT_SCHEMA_VERSION
from spectral_cli.core.runs import RunDir
from spectral_cli.core.stats import PairTest, Summary, compare, higher_is_better, summarize

REPORT = RunDir.REPORT


class Side(BaseModel):
    """One argument of ``compare``: its runs' final metrics by seed."""

    name: str
    family: str
    runs: list[str]
    seeds: list[int]
    metrics: dict[str, Summary] = Field(default_factory=dict)


class CompareReport(BaseModel):
    schema_version: str = REPORT_SCHEMA_VERSION
    command: str = "compare"
    sides: list[Side]
    pairs: list[PairTest]


def _read(report_path: Path, arg: str) -> dict[str, Any]:
    try:
        text = report_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise BadInput(f"compare {arg}: {report_path} is not a readable report.json") from None
    data = parse_json(text, f"compare {arg}: {report_path}")
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        raise BadInput(f"compare {arg}: {report_path} is not a training run's report")
    return data


def run_dirs(arg: str) -> list[Path]:
    """The run directories an argument names (a run, a multi-seed directory or a glob)."""
    path = Path(arg)
    if path.is_dir() and (path / REPORT).is_file():
        return [path]
    if path.is_dir():
        seeds = sorted(p.parent for p in path.glob(f"seed-*/{REPORT}"))
        if seeds:
            return seeds
        raise BadInput(f"compare {arg}: no {REPORT} in it or in its seed-*/ folders")
    matches = sorted(Path(p) for p in glob.glob(arg) if (Path(p) / REPORT).is_file())
    if not matches:
        raise BadInput(f"compare {arg}: no such run directory (nor runs matching it as a glob)")
    return matches


def load_side(arg: str) -> tuple[Side, dict[int, dict[str, float]]]:
    """The side ``arg`` and its values: seed -> {metric: value}."""
    values: dict[int, dict[str, float]] = {}
    families, runs = set(), []
    for run in run_dirs(arg):
        data = _read(run / REPORT, arg)
        seed = data.get("seed")
        if not isinstance(seed, int) or seed in values:
            raise BadInput(
                f"compare {arg}: {run} repeats seed {seed}; a side holds one run per seed"
            )
        values[seed] = {
            k: float(v) for k, v in data["metrics"].items() if isinstance(v, (int, float))
        }
        families.add(str(data.get("family")))
        runs.append(str(run))
    shared = set.intersection(*(set(v) for v in values.values()))
    side = Side(
        name=arg,
        family=", ".join(sorted(families)),
        runs=runs,
        seeds=sorted(values),
        metrics={m: summarize([v[m] for v in values.values()], m) for m in sorted(shared)},
    )
    return side, values


def compare_sides(args: list[str]) -> CompareReport:
    """Every two sides on every metric they share; sides of no shared metric are bad input."""
    if len(args) < 2:
        raise BadInput("compare needs at least two runs (run directories, seed folders or globs)")
    loaded = [load_side(arg) for arg in args]
    pairs = []
    for (a, va), (b, vb) in itertools.combinations(loaded, 2):
        common = [m for m in a.metrics if m in b.metrics]
        if not common:
            raise BadInput(
                f"compare: {a.name} ({', '.join(a.metrics) or 'no metrics'}) and {b.name} "
                f"({', '.join(b.metrics) or 'no metrics'}) share no metric"
            )
        paired = a.seeds == b.seeds and len(a.seeds) > 1
        for metric in common:
            xa = [va[s][metric] for s in a.seeds]
            xb = [vb[s][metric] for s in b.seeds]
            pairs.append(
                compare(
                    a.name,
                    xa,
                    b.name,
                    xb,
                    metric=metric,
                    higher_is_better=higher_is_better(metric),
                    paired=paired,
                )
            )
    return CompareReport(sides=[side for side, _ in loaded], pairs=pairs)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def markdown(report: CompareReport) -> str:
    """The comparison as a Markdown table (one row per pair and metric)."""
    sides = {s.name: s for s in report.sides}
    lines = [
        "| metric | A | B | A − B (95 % CI) | test | p | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for pt in report.pairs:
        a, b = sides[pt.a].metrics[pt.metric], sides[pt.b].metrics[pt.metric]
        better = "higher" if pt.higher_is_better else "lower"
        verdict = {
            "a better": f"{pt.a} better",
            "b better": f"{pt.b} better",
            "no difference": "no difference shown",
            "inconclusive": "inconclusive (n < 3 on a side)",
        }[pt.verdict]
        lines.append(
            f"| {pt.metric} ({better} is better) | {pt.a}: {a.mean:.4g} ± {a.std:.2g} (n={a.n}) "
            f"| {pt.b}: {b.mean:.4g} ± {b.std:.2g} (n={b.n}) | {pt.diff:+.4g} "
            f"({_fmt(pt.ci95_low)} … {_fmt(pt.ci95_high)}) | {pt.test} | {_fmt(pt.p_value)} "
            f"| {verdict} |"
        )
    return "\n".join(lines) + "\n"

"""The tune report (report.json), the comparison table (comparison.md) and its figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from spectral_cli.core.report import Report
from spectral_cli.core.stats import PairTest, Summary, minimized


class TrialRecord(BaseModel):
    number: int
    params: dict[str, Any]
    value: float | None
    state: str
    duration_seconds: float | None


class FinalRun(BaseModel):
    """A final retraining: the selection metric on validation and the family's test metric."""

    seed: int
    val: float
    test: float
    run_dir: str


class FamilyResult(BaseModel):
    """``metric``/``direction``: what the study optimized (the family's selection metric);
    ``test_metric``/``test_direction``: what the final runs report on the test split."""

    study_name: str
    metric: str
    direction: str
    test_metric: str
    test_direction: str
    trials: list[TrialRecord]
    best_params: dict[str, Any]
    best_value: float
    best_trial: int
    params_total: int
    final: list[FinalRun] = Field(default_factory=list)
    test: Summary | None = None
    best_model: str | None = None

    def best_final(self) -> FinalRun:
        """The final run whose weights are published: the best validation value in the study's
        ``direction`` (the test split picks nothing), the lowest seed on a tie."""
        sign = 1.0 if self.direction == "maximize" else -1.0
        return max(self.final, key=lambda r: (sign * r.val, -r.seed))


def scale(metric: str) -> tuple[float, str]:
    """Accuracies print in percent, other metrics as they are."""
    return (100.0, " %") if metric.endswith("_acc") else (1.0, "")


def fmt(value: float, metric: str) -> str:
    k, unit = scale(metric)
    return f"{value * k:.2f}{unit}" if unit else f"{value:.4g}"


class TuneReport(Report):
    command: str = "tune"
    storage: str
    sampler: str
    pruner: str
    trials_requested: int
    final_seeds: int
    workers: int
    families: dict[str, FamilyResult]
    pairwise: list[PairTest]
    timing: dict[str, float]

    def summary(self) -> str:
        parts = []
        for name, fam in self.families.items():
            t = fam.test
            txt = (
                f"{fam.test_metric} {fmt(t.mean, fam.test_metric)} ± {fmt(t.std, fam.test_metric)}"
                if t
                else f"{fam.metric} {fam.best_value:.4g}"
            )
            parts.append(f"{name} {txt}")
        return "tune: " + ", ".join(parts)


def _fmt_params(params: dict[str, Any]) -> str:
    out = []
    for key, value in params.items():
        short = key.split(".")[-1]
        short = "K" if short == "k" else short
        out.append(f"{short}={value:.4g}" if isinstance(value, float) else f"{short}={value}")
    return ", ".join(out) or "-"


def comparison_markdown(report: TuneReport) -> str:
    """The seed's table shape plus mean ± std, 95 % CI and n; pairwise tests; the verdicts."""
    studied = ", ".join(
        f"{name} {len(fam.trials)} ({sum(t.state == 'PRUNED' for t in fam.trials)} pruned)"
        for name, fam in report.families.items()
    )
    selected = ", ".join(sorted({f"{f.metric} ({f.direction})" for f in report.families.values()}))
    lines = [
        "# Comparison",
        "",
        "Test metric of each family's best configuration (selected on the validation "
        f"{selected} over its study's trials: {studied}; {report.sampler} sampler), retrained "
        f"with {report.final_seeds} seeds.",
        "",
        "| Method | Test metric | Best (mean ± std) | 95 % CI | n | Parameters (Total) "
        "| Best Hyperparams |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, fam in report.families.items():
        t, m = fam.test, fam.test_metric
        if t is None:
            mean, ci, n = "(not evaluated)", "-", "0"
        else:
            mean = f"{fmt(t.mean, m)} ± {fmt(t.std, m)}"
            ci = (
                "-"
                if t.ci95_low is None or t.ci95_high is None
                else f"{fmt(t.ci95_low, m)} – {fmt(t.ci95_high, m)}"
            )
            n = str(t.n)
        lines.append(
            f"| {name} | {m} ({fam.test_direction}) | {mean} | {ci} | {n} | "
            f"{fam.params_total:,} | {_fmt_params(fam.best_params)} |"
        )
    if report.pairwise:
        lines += [
            "",
            "Pairwise Welch t-tests (difference of the mean test metric, a − b; only families "
            "that share a test metric):",
            "",
            "| a | b | a − b (points for accuracies) | 95 % CI of a − b | p | verdict |",
            "|---|---|---|---|---|---|",
        ]
        for pt in report.pairwise:
            k, _ = scale(report.families[pt.a].test_metric)
            ci = (
                "-"
                if pt.ci95_low is None or pt.ci95_high is None
                else f"{pt.ci95_low * k:+.4g} … {pt.ci95_high * k:+.4g}"
            )
            p = "-" if pt.p_value is None else f"{pt.p_value:.3g}"
            lines.append(
                f"| {pt.a} | {pt.b} | {pt.diff * k:+.4g} | {ci} | {p} | {verdict(pt, report)} |"
            )
    lines += [
        "",
        "A difference is called *supported* only when its 95 % confidence interval excludes 0 "
        "and each side has at least 3 final seeds (fewer: inconclusive).",
        "",
    ]
    return "\n".join(lines)


def verdict(pt: PairTest, report: TuneReport | None = None) -> str:
    """Which side is better, in the direction of the shared test metric; no verdict below
    three final seeds a side (:mod:`spectral_cli.core.stats`)."""
    if pt.verdict == "inconclusive":
        return "inconclusive (fewer than 3 final seeds)"
    if pt.verdict == "a better":
        return f"{pt.a} better (supported)"
    if pt.verdict == "b better":
        return f"{pt.b} better (supported)"
    return "no supported difference"


def comparison_plot(report: TuneReport, path: Path) -> Path:
    """Draw and save ``comparison.png`` (:func:`build_comparison_plot`)."""
    from spectral_cli.core.plots import save_figure

    return save_figure(build_comparison_plot(report, path.parent.resolve().name), path)


def build_comparison_plot(report: TuneReport, run_name: str) -> Any:
    """One panel per test metric (each family's final seeds, mean and 95 % CI clipped to the
    metric's range) and one per validation metric (the value of every trial, integer trial
    ticks); never two metrics on one axis; minimized metrics (losses, errors, nMSE) on a log
    axis; accuracies in %."""
    from spectral_cli.core import plots
    from spectral_cli.core.stats import metric_bounds

    plt = plots.pyplot()
    fams = report.families
    tests = sorted({f.test_metric for f in fams.values() if f.test is not None})
    vals = sorted({f.metric for f in fams.values()})
    panels = max(len(tests) + len(vals), 1)
    fig, axes = plt.subplots(
        1, panels, figsize=(5.6 * panels, 4), squeeze=False, layout="constrained"
    )
    for ax, metric in zip(axes[0], tests, strict=False):
        names = [n for n, f in fams.items() if f.test_metric == metric and f.test is not None]
        k, unit = scale(metric)
        lo_b, hi_b = metric_bounds(metric)
        drawn: list[float] = []
        for i, name in enumerate(names):
            t = fams[name].test
            assert t is not None
            low = min(max(t.mean if t.ci95_low is None else t.ci95_low, lo_b), hi_b)
            high = min(max(t.mean if t.ci95_high is None else t.ci95_high, lo_b), hi_b)
            yerr = [[(t.mean - low) * k], [(high - t.mean) * k]]
            ax.errorbar([i], [t.mean * k], yerr=yerr, fmt="o", capsize=6)
            ax.scatter([i] * t.n, [v * k for v in t.values], s=10, alpha=0.5, color="grey")
            drawn += [t.mean * k, *(v * k for v in t.values)]  # CI ends may be 0
        ax.set_xticks(range(len(names)), names)
        ax.set_xlim(-0.6, len(names) - 0.4)
        ax.set(
            ylabel=f"test {metric.removeprefix('test_')}{' (%)' if unit else ''}",
            title=f"final {metric}: mean, 95 % CI (grey: seeds)",
        )
        _log_if_minimized(ax, metric, drawn)
    for ax, metric in zip(axes[0][len(tests) :], vals, strict=True):
        k, unit = scale(metric)
        drawn = []
        for name, fam in fams.items():
            if fam.metric != metric:
                continue
            done = _trial_points(fam, "COMPLETE", k)
            (line,) = ax.plot(
                done[0], done[1], "-", marker="o", markersize=4, label=name, alpha=0.8
            )
            pruned = _trial_points(fam, "PRUNED", k)
            if pruned[0]:  # a legend entry only for what is drawn
                ax.plot(*pruned, "x", color=line.get_color(), label=f"{name} (pruned)")
            drawn += done[1] + pruned[1]
        plots.integer_ticks(ax.xaxis)
        ax.set(
            xlabel="trial",
            ylabel=f"validation {metric.removeprefix('val_')}{' (%)' if unit else ''}",
            title=f"trials: validation {metric}",
        )
        _log_if_minimized(ax, metric, drawn)
        plots.legend_right(ax)
    for ax in axes[0]:
        ax.grid(alpha=0.3)
    fig.suptitle(f"{run_name}: tune {', '.join(fams)} ({report.sampler} sampler)")
    return fig


def _log_if_minimized(ax: Any, metric: str, values: list[float]) -> None:
    """Minimized metrics (losses, errors, nMSE: they span decades between families and
    trials) on a log axis, when every value is positive."""
    from spectral_cli.core import plots

    if minimized(metric) and values and all(v > 0 for v in values):
        plots.set_log(ax, values)


def replot(run: Path) -> list[Path]:
    """Redraw ``comparison.png`` of a ``spectral tune`` run directory from its report."""
    from pydantic import ValidationError

    from spectral_cli.core.errors import BadInput

    try:
        report = TuneReport.model_validate_json((run / "report.json").read_bytes())
    except (OSError, ValueError, ValidationError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BadInput(f"{run}/report.json is not a readable tune report ({first})") from None
    return [comparison_plot(report, run / "comparison.png")]


def _trial_points(fam: FamilyResult, state: str, k: float) -> tuple[list[int], list[float]]:
    """Trial numbers and values (times ``k``) of the family's trials in ``state`` with a value."""
    points = [
        (t.number, t.value * k) for t in fam.trials if t.state == state and t.value is not None
    ]
    return [n for n, _ in points], [v for _, v in points]

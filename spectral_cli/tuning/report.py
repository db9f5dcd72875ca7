"""The tune report (report.json), the comparison table (comparison.md) and its figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from spectral_cli.io.report import Report
from spectral_cli.tuning.stats import PairTest, Summary


class TrialRecord(BaseModel):
    number: int
    params: dict[str, Any]
    value: float | None
    state: str
    duration_seconds: float | None


class FinalRun(BaseModel):
    seed: int
    val_acc: float
    test_acc: float
    run_dir: str


class FamilyResult(BaseModel):
    study_name: str
    trials: list[TrialRecord]
    best_params: dict[str, Any]
    best_val_acc: float
    best_trial: int
    params_total: int
    final: list[FinalRun] = Field(default_factory=list)
    test_acc: Summary | None = None
    best_model: str | None = None


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
            acc = fam.test_acc
            txt = (
                f"{acc.mean * 100:.2f}±{acc.std * 100:.2f}%"
                if acc
                else f"val {fam.best_val_acc:.4f}"
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
    lines = [
        "# Comparison",
        "",
        "Test accuracy of each family's best configuration (selected on validation accuracy over "
        f"its study's trials: {studied}; {report.sampler} sampler), retrained with "
        f"{report.final_seeds} seeds.",
        "",
        "| Method | Best Accuracy (mean ± std) | 95 % CI | n | Parameters (Total) "
        "| Best Hyperparams |",
        "|---|---|---|---|---|---|",
    ]
    for name, fam in report.families.items():
        acc = fam.test_acc
        if acc is None:
            mean, ci, n = "(not evaluated)", "-", "0"
        else:
            mean = f"{acc.mean * 100:.2f} % ± {acc.std * 100:.2f}"
            ci = (
                "-"
                if acc.ci95_low is None
                else f"{acc.ci95_low * 100:.2f} – {acc.ci95_high * 100:.2f} %"
            )  # type: ignore[operator]
            n = str(acc.n)
        lines.append(
            f"| {name} | {mean} | {ci} | {n} | {fam.params_total:,} | "
            f"{_fmt_params(fam.best_params)} |"
        )
    if report.pairwise:
        lines += [
            "",
            "Pairwise Welch t-tests (difference of mean test accuracy, a − b):",
            "",
            "| a | b | a − b (points) | 95 % CI of a − b | p | verdict |",
            "|---|---|---|---|---|---|",
        ]
        for pt in report.pairwise:
            ci = (
                "-"
                if pt.ci95_low is None
                else f"{pt.ci95_low * 100:+.2f} … {pt.ci95_high * 100:+.2f}"
            )  # type: ignore[operator]
            p = "-" if pt.p_value is None else f"{pt.p_value:.3g}"
            lines.append(f"| {pt.a} | {pt.b} | {pt.diff * 100:+.2f} | {ci} | {p} | {verdict(pt)} |")
    lines += [
        "",
        "A difference is called *supported* only when its 95 % confidence interval excludes 0.",
        "",
    ]
    return "\n".join(lines)


def verdict(pt: PairTest) -> str:
    if pt.ci95_low is None or pt.ci95_high is None:
        return "too few seeds"
    if pt.ci95_low > 0:
        return f"{pt.a} better (supported)"
    if pt.ci95_high < 0:
        return f"{pt.b} better (supported)"
    return "no supported difference"


def comparison_plot(report: TuneReport, path: Path) -> None:
    """Left: test accuracy per family with 95 % CI error bars; right: validation acc over trials."""
    from spectral_cli.io.plots import _pyplot, _save

    plt = _pyplot()
    fig, (ax_acc, ax_trials) = plt.subplots(1, 2, figsize=(11, 4))
    names = list(report.families)
    for i, name in enumerate(names):
        fam = report.families[name]
        acc = fam.test_acc
        if acc is not None:
            err = 0.0 if acc.ci95_low is None else acc.mean - acc.ci95_low
            ax_acc.errorbar([i], [acc.mean * 100], yerr=[err * 100], fmt="o", capsize=6)
            ax_acc.scatter(
                [i] * acc.n, [v * 100 for v in acc.values], s=10, alpha=0.5, color="grey"
            )
        done = [t for t in fam.trials if t.state == "COMPLETE" and t.value is not None]
        (line,) = ax_trials.plot(
            [t.number for t in done],
            [t.value * 100 for t in done],
            "o-",
            label=name,
            alpha=0.8,  # type: ignore[operator]
        )
        pruned = [t for t in fam.trials if t.state == "PRUNED" and t.value is not None]
        ax_trials.plot(
            [t.number for t in pruned],
            [t.value * 100 for t in pruned],  # type: ignore[operator]
            "x",
            color=line.get_color(),
            label=f"{name} (pruned: last reported)",
        )
    ax_acc.set_xticks(range(len(names)), names)
    ax_acc.set(ylabel="test accuracy (%)", title="best configuration, mean and 95 % CI over seeds")
    ax_trials.set(xlabel="trial", ylabel="validation accuracy (%)", title="trials")
    ax_trials.legend(fontsize=7)
    for ax in (ax_acc, ax_trials):
        ax.grid(alpha=0.3)
    _save(fig, path)

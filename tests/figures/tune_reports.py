"""Hand-made ``spectral tune`` reports for the comparison figure's tests (the report model is
the previous release's too, so the same reports reach its ``comparison_plot``)."""

from __future__ import annotations

from spectral_cli.core.stats import Summary
from spectral_cli.tuning.report import FamilyResult, FinalRun, TrialRecord, TuneReport


def result(metric: str, test_metric: str, values: list[float], trials: list[float]) -> FamilyResult:
    mean = sum(values) / len(values)
    return FamilyResult(
        study_name="s",
        metric=metric,
        direction="minimize" if "loss" in metric else "maximize",
        test_metric=test_metric,
        test_direction="min" if "nmse" in test_metric else "max",
        trials=[
            TrialRecord(number=i, params={}, value=v, state="COMPLETE", duration_seconds=1.0)
            for i, v in enumerate(trials)
        ],
        best_params={},
        best_value=trials[0],
        best_trial=0,
        params_total=10,
        final=[FinalRun(seed=s, val=v, test=v, run_dir=f"seed-{s}") for s, v in enumerate(values)],
        # an interval from before they were clipped: it reaches below 0 %
        test=Summary(
            n=len(values),
            mean=mean,
            std=0.05,
            ci95_low=mean - 0.4,
            ci95_high=mean + 0.02,
            values=values,
            min=min(values),
            max=max(values),
        ),
    )


def report(families: dict[str, FamilyResult]) -> TuneReport:
    return TuneReport(
        config={},
        seed=0,
        device="cpu",
        versions={},
        storage="sqlite://",
        sampler="tpe",
        pruner="none",
        trials_requested=3,
        final_seeds=2,
        workers=1,
        families=families,
        pairwise=[],
        timing={},
    )

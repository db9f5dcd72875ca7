"""``spectral tune``: studies per family, multi-seed final evaluation, comparison outputs.

Tuning never looks at the test split; only the final retraining of each family's best
configuration (``final_seeds`` seeds) is evaluated on test, and the statistics compare those.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

from spectral_cli.core.atomic import write_text_atomic
from spectral_cli.core.credentials import mask_credentials
from spectral_cli.core.errors import Interrupted, RuntimeFailure
from spectral_cli.core.registry import get_family
from spectral_cli.core.report import write_report
from spectral_cli.core.runs import RunDir
from spectral_cli.core.signals import StopFlag
from spectral_cli.core.stats import PairTest, welch
from spectral_cli.tuning.failures import storage_errors
from spectral_cli.tuning.final import final_runs
from spectral_cli.tuning.prepare import prepare_tune_dir
from spectral_cli.tuning.recovery import earlier_results, fail_dead_trials
from spectral_cli.tuning.report import (
    FamilyResult,
    TrialRecord,
    TuneReport,
    comparison_markdown,
    comparison_plot,
)
from spectral_cli.tuning.settings import (
    TuneSettings,
    family_sets,
)
from spectral_cli.tuning.trials import TrialProgress, run_trials
from spectral_cli.tuning.workers import run_workers


def collect(study: Any, family: str) -> FamilyResult:
    import optuna

    trials = [
        TrialRecord(
            number=t.number,
            params=t.params,
            value=t.value,
            state=t.state.name,
            duration_seconds=t.duration.total_seconds() if t.duration else None,
        )
        for t in study.trials
    ]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise RuntimeFailure(
            f"no trial of {family} completed; see the failed trials' run "
            "directories under trials/ and rerun with --set overrides that work"
        )
    best = study.best_trial
    spec = get_family(family)
    return FamilyResult(
        study_name=study.study_name,
        metric=spec.select.name,
        direction=spec.select.direction,
        test_metric=spec.test.name,
        test_direction=spec.test.mode,
        trials=trials,
        best_params=best.params,
        best_value=float(best.value),
        best_trial=best.number,
        params_total=int(best.user_attrs.get("params_total", 0)),
    )


def compare(results: dict[str, FamilyResult]) -> list[PairTest]:
    """Welch's test of every two families evaluated on the same test metric, in its direction."""
    pairs = []
    for a, b in itertools.combinations(results, 2):
        ta, tb = results[a].test, results[b].test
        if ta is None or tb is None or results[a].test_metric != results[b].test_metric:
            continue
        higher = results[a].test_direction == "max"
        metric = results[a].test_metric
        pairs.append(welch(a, ta.values, b, tb.values, higher_is_better=higher, metric=metric))
    return pairs


def tune_families(
    settings: TuneSettings, progress: TrialProgress | None, stop: StopFlag
) -> dict[str, FamilyResult]:
    """Add ``settings.trials`` trials to every family's study; each family's result."""
    from spectral_cli.tuning.study import (
        make_pruner,
        open_storage,
        open_study,
        quiet_optuna,
        study_name,
    )

    quiet_optuna("ERROR" if settings.quiet else "WARNING")
    storage = open_storage(settings.storage)
    results: dict[str, FamilyResult] = {}
    for family in settings.families:  # refuse a foreign study before any trial runs
        study = open_study(
            storage,
            study_name(settings.study_name, family),
            family,
            None,
            make_pruner(settings.pruner),
            family_sets(settings, family),
        )
        fail_dead_trials(study, starting=True)  # a killed process's trials are not RUNNING
    for family in settings.families:
        if settings.trials == 0:
            pass  # --resume --trials 0: the studies stay as they are; finish the final runs
        elif settings.workers == 1:
            run_trials(settings, family, settings.trials, 0, progress, stop)
        else:
            run_workers(settings, family, stop)
        if stop.requested:
            raise Interrupted(
                f"{stop.signal_name} while tuning {family}; finished trials are kept "
                f"in {mask_credentials(settings.storage)}; rerun the command to add trials"
            )
        study = open_study(
            storage,
            study_name(settings.study_name, family),
            family,
            None,
            make_pruner(settings.pruner),
        )
        fail_dead_trials(study)
        results[family] = collect(study, family)
    return results


def tune_run(
    settings: TuneSettings,
    progress: TrialProgress | None = None,
    stop: StopFlag | None = None,
    *,
    overwrite: bool = False,
    resume: bool = False,
    given: set[str] | None = None,
    note: Callable[[str], None] | None = None,
) -> TuneReport:
    """Tune every family, evaluate the best configurations, write the outputs in ``out``.
    ``given``: the options typed (a resume restores the others; ``None``: all were typed)."""
    stop = stop or StopFlag()
    settings = prepare_tune_dir(
        settings, overwrite=overwrite, resume=resume, given=given, note=note
    )
    # read before any trial runs: an unreadable report is refused up front
    earlier = earlier_results(settings.out, settings.families) if resume else {}
    started = time.perf_counter()
    with storage_errors(settings.storage):
        results = tune_families(settings, progress, stop)
    tuned = time.perf_counter()
    final_runs(settings, results, stop)
    results = {**earlier, **results}  # families tuned earlier here keep their results
    pairwise = compare(results)
    from spectral_cli.core.device import resolve_device

    report = TuneReport(
        config={
            "families": list(results),
            "sets": list(settings.sets),
            "space_file": str(settings.space_file) if settings.space_file else None,
            "config_file": str(settings.config_file) if settings.config_file else None,
            "timeout": settings.timeout,
            "study_name": settings.study_name,
        },
        seed=settings.seed,
        device=str(resolve_device(settings.device)),
        storage=mask_credentials(settings.storage),  # no password in report.json
        sampler=settings.sampler,
        pruner=settings.pruner,
        trials_requested=settings.trials,
        final_seeds=settings.final_seeds,
        workers=settings.workers,
        families=results,
        pairwise=pairwise,
        timing={
            "tuning_seconds": tuned - started,
            "final_seconds": time.perf_counter() - tuned,
            "total_seconds": time.perf_counter() - started,
        },
    )
    write_report(settings.out / RunDir.REPORT, report)
    write_text_atomic(settings.out / "comparison.md", comparison_markdown(report))
    comparison_plot(report, settings.out / "comparison.png")
    return report

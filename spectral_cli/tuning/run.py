"""``spectral tune``: studies per family, multi-seed final evaluation, comparison outputs.

Tuning never looks at the test split; only the final retraining of each family's best
configuration (``final_seeds`` seeds) is evaluated on test, and the statistics compare those.
"""

from __future__ import annotations

import itertools
import json
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from spectral_cli.core.atomic import write_text_atomic, write_with
from spectral_cli.core.errors import BadInput, Interrupted, RuntimeFailure
from spectral_cli.core.registry import get_family
from spectral_cli.core.report import write_report
from spectral_cli.core.signals import StopFlag
from spectral_cli.tuning.report import (
    FamilyResult,
    FinalRun,
    TrialRecord,
    TuneReport,
    comparison_markdown,
    comparison_plot,
)
from spectral_cli.tuning.stats import summarize, welch
from spectral_cli.tuning.trials import (
    TrialProgress,
    TuneSettings,
    run_trials,
    run_workers,
    trial_config,
)


def default_storage(out: Path) -> str:
    return f"sqlite:///{(out / 'optuna.db').resolve()}"


def validate_settings(settings: TuneSettings) -> None:  # noqa: C901 - a flat list of checks
    """Fail fast (exit 2) on anything that would make every trial fail."""
    from spectral_cli.tuning.space import load_space

    if settings.sampler not in ("tpe", "random"):
        raise BadInput(f"--sampler must be tpe or random, not {settings.sampler!r}")
    if settings.pruner not in ("median", "none"):
        raise BadInput(f"--pruner must be median or none, not {settings.pruner!r}")
    if settings.trials < 1:
        raise BadInput(f"--trials must be >= 1, got {settings.trials}")
    if settings.workers < 1:
        raise BadInput(f"--workers must be >= 1, got {settings.workers}")
    if settings.final_seeds < 0:
        raise BadInput(f"--final-seeds must be >= 0, got {settings.final_seeds}")
    if len(set(settings.families)) != len(settings.families):
        raise BadInput("a family is named twice")
    if not (settings.seed >= 0 and settings.seed + max(settings.final_seeds, 1) <= 2**32):
        raise BadInput(f"--seed must be in [0, 2**32 - final seeds), got {settings.seed}")
    for family in settings.families:
        spec = get_family(family)
        if spec.tunable is not None:
            raise BadInput(f"family {family!r} cannot be tuned: {spec.tunable}")
        space = load_space(family, settings.space_file)
        cfg = None
        for key, param in space.items():  # each end of each range must be a valid config
            for value in param.extremes():
                cfg = trial_config(settings, family, {key: value}, settings.seed)
        cfg = cfg or trial_config(settings, family, {}, settings.seed)
        spec.data(cfg)  # a missing or malformed data file is exit 2, not 8 FAILs


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
        metric=spec.select,
        direction="maximize" if spec.mode == "max" else "minimize",
        test_metric=spec.test_metric,
        test_direction=spec.test_mode,
        trials=trials,
        best_params=best.params,
        best_value=float(best.value),
        best_trial=best.number,
        params_total=int(best.user_attrs.get("params_total", 0)),
    )


def final_dir(settings: TuneSettings, family: str, seed: int) -> Path:
    return settings.out / "final" / family / f"seed-{seed}"


def final_runs(settings: TuneSettings, results: dict[str, FamilyResult], stop: StopFlag) -> None:
    """Retrain every family's best configuration with ``final_seeds`` seeds; evaluate on test.

    With ``workers > 1`` the runs are spread over that many spawned processes.
    """
    from spectral_cli.core.pipeline import run_experiment
    from spectral_cli.tuning.trials import run_final_workers

    jobs = [
        (family, settings.seed + i, results[family].best_params)
        for family in settings.families
        for i in range(settings.final_seeds)
    ]
    if settings.workers > 1 and len(jobs) > 1:
        run_final_workers(settings, jobs, stop)
    else:
        from spectral_cli.core.device import resolve_device
        from spectral_cli.core.runs import prepare_run_dir

        device = resolve_device(settings.device)
        for family, seed, params in jobs:
            run_dir = prepare_run_dir(
                final_dir(settings, family, seed), "tune", family, overwrite=True
            )
            cfg = trial_config(settings, family, params, seed)
            run_experiment(cfg, run_dir, device, stop=stop, plots_enabled=False)
    if stop.requested:
        raise Interrupted(
            f"{stop.signal_name} during the final runs; the studies are complete in "
            f"{settings.storage}; rerun with --resume to continue (it adds --trials first)"
        )
    for family, seed, _ in jobs:
        report_path = final_dir(settings, family, seed) / "report.json"
        if not report_path.is_file():
            raise RuntimeFailure(
                f"final run of {family} with seed {seed} did not finish; see {report_path.parent}"
            )
        rep = json.loads(report_path.read_text())
        result = results[family]
        sel = rep["selection"]
        val = sel["best_value"] if sel["kept"] == "best" else rep["history"][-1][sel["metric"]]
        result.final.append(
            FinalRun(
                seed=seed,
                val=val,
                test=rep["metrics"][result.test_metric],
                run_dir=str(report_path.parent),
            )
        )
        result.params_total = rep["params"]["total"]
    for family in settings.families:
        result = results[family]
        if not result.final:
            continue
        result.test = summarize([r.test for r in result.final])
        sign = 1.0 if result.direction == "maximize" else -1.0  # selected on validation
        chosen = max(result.final, key=lambda r: (sign * r.val, -r.seed))
        publish_best(settings.out / f"best-{family}", Path(chosen.run_dir))
        result.best_model = f"best-{family}/model.safetensors"


def publish_best(dest: Path, src: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("model.safetensors", "report.json", "config.yaml"):
        write_with(dest / name, lambda tmp, n=name: shutil.copyfile(src / n, tmp))


def prepare_tune_dir(settings: TuneSettings, *, overwrite: bool, resume: bool) -> TuneSettings:
    """Validate everything, then create (or reuse, with ``resume``) ``settings.out``.

    Refused input creates no directory. An empty ``settings.storage`` means the default SQLite
    file in ``out``; the returned settings name it.
    """
    from spectral_cli.core.runs import prepare_run_dir
    from spectral_cli.tuning.study import open_storage

    validate_settings(settings)
    out = settings.out
    if resume and overwrite:
        raise BadInput("--overwrite and --resume contradict each other; pass one of them")
    if settings.storage:
        open_storage(settings.storage)  # an unusable URL is refused before anything is created
    elif resume and not (out / "optuna.db").is_file():
        raise BadInput(f"--resume: {out} holds no optuna.db; nothing to continue")
    if not resume:
        prepare_run_dir(out, "tune", "-".join(settings.families), overwrite=overwrite)
    return replace(settings, storage=settings.storage or default_storage(out))


def tune_run(
    settings: TuneSettings,
    progress: TrialProgress | None = None,
    stop: StopFlag | None = None,
    *,
    overwrite: bool = False,
    resume: bool = False,
) -> TuneReport:
    """Tune every family, evaluate the best configurations, write the outputs in ``out``."""
    from spectral_cli.tuning.study import (
        make_pruner,
        open_storage,
        open_study,
        quiet_optuna,
        study_name,
    )

    stop = stop or StopFlag()
    settings = prepare_tune_dir(settings, overwrite=overwrite, resume=resume)
    quiet_optuna("ERROR" if settings.quiet else "WARNING")
    storage = open_storage(settings.storage)
    started = time.perf_counter()
    results: dict[str, FamilyResult] = {}
    for family in settings.families:  # refuse a foreign study before any trial runs
        open_study(
            storage,
            study_name(settings.study_name, family),
            family,
            None,
            make_pruner(settings.pruner),
            list(settings.sets),
        )
    for family in settings.families:
        if settings.workers == 1:
            run_trials(settings, family, settings.trials, 0, progress, stop)
        else:
            run_workers(settings, family, stop)
        if stop.requested:
            raise Interrupted(
                f"{stop.signal_name} while tuning {family}; finished trials are kept "
                f"in {settings.storage}; rerun the command to add trials"
            )
        study = open_study(
            storage,
            study_name(settings.study_name, family),
            family,
            None,
            make_pruner(settings.pruner),
        )
        results[family] = collect(study, family)
    tuned = time.perf_counter()
    final_runs(settings, results, stop)
    pairwise = [
        welch(a, results[a].test.values, b, results[b].test.values)  # type: ignore[union-attr]
        for a, b in itertools.combinations(settings.families, 2)
        if results[a].test is not None and results[b].test is not None
        and results[a].test_metric == results[b].test_metric
    ]
    from spectral_cli.core.device import resolve_device

    report = TuneReport(
        config={
            "families": list(settings.families),
            "sets": list(settings.sets),
            "space_file": str(settings.space_file) if settings.space_file else None,
            "config_file": str(settings.config_file) if settings.config_file else None,
            "timeout": settings.timeout,
            "study_name": settings.study_name,
        },
        seed=settings.seed,
        device=str(resolve_device(settings.device)),
        storage=settings.storage,
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
    write_report(settings.out / "report.json", report)
    write_text_atomic(settings.out / "comparison.md", comparison_markdown(report))
    comparison_plot(report, settings.out / "comparison.png")
    return report

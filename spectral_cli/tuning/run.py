"""``spectral tune``: studies per family, multi-seed final evaluation, comparison outputs.

Tuning never looks at the test split; only the final retraining of each family's best
configuration (``final_seeds`` seeds) is evaluated on test, and the statistics compare those.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from spectral_cli.core.atomic import write_text_atomic
from spectral_cli.core.credentials import mask_credentials
from spectral_cli.core.errors import BadInput, Interrupted, RuntimeFailure
from spectral_cli.core.registry import get_family
from spectral_cli.core.report import write_report
from spectral_cli.core.runs import RunDir
from spectral_cli.core.signals import StopFlag
from spectral_cli.core.stats import PairTest, welch
from spectral_cli.tuning.final import final_runs
from spectral_cli.tuning.recovery import earlier_results, fail_dead_trials, validate_study_name
from spectral_cli.tuning.report import (
    FamilyResult,
    TrialRecord,
    TuneReport,
    comparison_markdown,
    comparison_plot,
)
from spectral_cli.tuning.settings import (
    REMEMBERED,
    SETTINGS_FILE,
    TuneSettings,
    check_sets,
    family_sets,
    remembered,
    restore,
    trial_config,
)
from spectral_cli.tuning.trials import TrialProgress, run_trials
from spectral_cli.tuning.workers import run_workers


def default_storage(out: Path) -> str:
    return f"sqlite:///{(out / 'optuna.db').resolve()}"


def validate_settings(settings: TuneSettings) -> None:
    """Fail fast (exit 2) on anything that would make every trial fail."""
    from spectral_cli.tuning.space import load_space

    if settings.sampler not in ("tpe", "random"):
        raise BadInput(f"--sampler must be tpe or random, not {settings.sampler!r}")
    if settings.pruner not in ("median", "none"):
        raise BadInput(f"--pruner must be median or none, not {settings.pruner!r}")
    if settings.trials < 0:
        raise BadInput(f"--trials must be >= 0, got {settings.trials}")
    validate_study_name(settings.study_name)
    if settings.workers < 1:
        raise BadInput(f"--workers must be >= 1, got {settings.workers}")
    if settings.final_seeds < 0:
        raise BadInput(f"--final-seeds must be >= 0, got {settings.final_seeds}")
    if len(set(settings.families)) != len(settings.families):
        raise BadInput("a family is named twice")
    if settings.timeout is not None and not (0 < settings.timeout < float("inf")):
        raise BadInput(f"--timeout must be a positive number of seconds, got {settings.timeout}")
    if not (settings.seed >= 0 and settings.seed + max(settings.final_seeds, 1) <= 2**32):
        raise BadInput(f"--seed must be in [0, 2**32 - final seeds), got {settings.seed}")
    for family in settings.families:
        spec = get_family(family)
        if spec.tunable is not None:
            raise BadInput(f"family {family!r} cannot be tuned: {spec.tunable}")
        space = load_space(family, settings.space_file)
        # the base (--config and --set, even for keys the space overrides), then each end and an
        # interior point of each range: a valid config each, or exit 2 before any trial runs
        cfg = trial_config(settings, family, {}, settings.seed)
        for key, param in space.items():
            for value in param.probes():
                trial_config(settings, family, {key: value}, settings.seed)
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


def resumed_settings(
    settings: TuneSettings, given: set[str], note: Callable[[str], None]
) -> TuneSettings:
    """A resume restores what the study started with (``OUT/tune-settings.json``): every
    remembered option not given again; one given again with another value is exit 2."""
    from spectral_cli.core.arrays import parse_json

    path = settings.out / SETTINGS_FILE
    if not path.is_file():
        return settings  # a study from before settings were stored: as given
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise BadInput(f"--resume: {path} is not readable JSON") from None
    saved = parse_json(text, f"--resume: {path}")
    if not isinstance(saved, dict):
        raise BadInput(f"--resume: {path} is not a settings object")
    restored = restore(settings, saved, given)
    shown = [
        f"{flag} {value}"
        for flag, value in (
            ("--set", " ".join(restored.sets) or "(none)"),
            ("--final-seeds", restored.final_seeds),
            ("--sampler", restored.sampler),
            ("--pruner", restored.pruner),
            ("--space", restored.space_file or "(declared)"),
            ("--timeout", restored.timeout or "(none)"),
        )
    ]
    note(f"note: resuming {settings.out} with the settings it started with: {'; '.join(shown)}")
    return restored


def prepare_tune_dir(
    settings: TuneSettings,
    *,
    overwrite: bool,
    resume: bool,
    given: set[str] | None = None,
    note: Callable[[str], None] | None = None,
) -> TuneSettings:
    """Validate everything, then create (or reuse, with ``resume``) ``settings.out``.

    Refused input creates no directory. An empty ``settings.storage`` means the default SQLite
    file in ``out``; the returned settings name it. ``given``: the options the user typed (a
    resume restores the others).
    """
    from spectral_cli.core.runs import clean_temporaries, lock_run_dir
    from spectral_cli.tuning.study import heartbeat_settings, open_storage

    if resume and settings.out.is_dir():
        all_given = set(REMEMBERED) if given is None else given
        settings = resumed_settings(settings, all_given, note or (lambda _: None))
    check_sets(settings)
    validate_settings(settings)
    heartbeat_settings()  # a bad $SPECTRAL_TUNE_HEARTBEAT/_GRACE is refused before the directory
    out = settings.out
    if resume and overwrite:
        raise BadInput("--overwrite and --resume contradict each other; pass one of them")
    if settings.trials == 0 and not resume:
        raise BadInput("--trials 0 only continues a tuning run: pass --resume --out DIR")
    if settings.storage:
        open_storage(settings.storage)  # an unusable URL is refused before anything is created
    elif resume and not (out / "optuna.db").is_file():
        raise BadInput(f"--resume: {out} holds no optuna.db; nothing to continue")
    if not resume:
        run_dir = RunDir.open(out, "tune", "-".join(settings.families), overwrite=overwrite)
        run_dir.write_text(SETTINGS_FILE, json.dumps(remembered(settings), indent=2) + "\n")
    else:
        if not out.is_dir():
            raise BadInput(f"--resume: {out} does not exist; nothing to continue")
        lock_run_dir(out)  # one tune process per directory (a shared study may span several)
        clean_temporaries(out)
    return replace(settings, storage=settings.storage or default_storage(out))


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
    from spectral_cli.tuning.study import (
        make_pruner,
        open_storage,
        open_study,
        quiet_optuna,
        study_name,
    )

    stop = stop or StopFlag()
    settings = prepare_tune_dir(
        settings, overwrite=overwrite, resume=resume, given=given, note=note
    )
    quiet_optuna("ERROR" if settings.quiet else "WARNING")
    storage = open_storage(settings.storage)
    started = time.perf_counter()
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
    tuned = time.perf_counter()
    final_runs(settings, results, stop)
    if resume:  # families tuned earlier in this directory keep their results
        results = {**earlier_results(settings.out, settings.families), **results}
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

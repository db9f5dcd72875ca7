"""``run_experiment``: the one path from a resolved config to a finished run directory.

seed -> data -> (for each model of the run: seed -> build -> fit) -> the family's ``finish``
step (final metrics and extras of every model) -> figures
(:mod:`~spectral_cli.core.run_figures`) -> report, with resume
and interrupts, for every registered family. :func:`train_into` opens the run directory and runs
it: ``spectral train``, tuning trials and final tune runs all go through it (``train`` opens the
directory itself only because, under torchrun, rank 0 creates it for every rank). Files: see
:class:`~spectral_cli.core.runs.RunDir` and ``docs/architecture.md``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Literal

import torch

from spectral_cli.core import distributed, provenance
from spectral_cli.core.config import dump_yaml
from spectral_cli.core.device import seed_everything
from spectral_cli.core.errors import Interrupted
from spectral_cli.core.evaluation import Observer, SilentObserver
from spectral_cli.core.members import RunContext, fit_member, summarize
from spectral_cli.core.metrics_log import METRICS_FILE, TENSORBOARD_DIR
from spectral_cli.core.registry import (
    Family,
    Member,
    Outcome,
    TrainedModel,
    TrainedRun,
    get_family,
)
from spectral_cli.core.report import Timing, TrainReport
from spectral_cli.core.run_figures import draw_train_figures
from spectral_cli.core.runs import RunDir
from spectral_cli.core.schema import RunConfig
from spectral_cli.core.signals import StopFlag


def finish_run(family: Family, run: TrainedRun) -> Outcome:
    """The family's post-training step, checked: one outcome per model of the run."""
    outcome = family.finish(run)
    names = [tm.member.name for tm in run.models]
    if sorted(outcome.models) != sorted(names):
        raise ValueError(f"{family.name}.finish returned {sorted(outcome.models)}, not {names}")
    return outcome


def run_experiment(
    cfg: RunConfig,
    run_dir: RunDir | Path,
    device: torch.device,
    *,
    resume: bool = False,
    observer: Observer | None = None,
    stop: StopFlag | None = None,
    evaluate_test: bool = True,
    plots_enabled: bool = True,
    data: Any = None,
    loggers: tuple[str, ...] = (),
) -> TrainReport:
    """Train every model of ``cfg``'s run into ``run_dir``; write and return the report.

    ``evaluate_test=False`` (``spectral tune`` trials) never touches the test split: the test
    metrics are null. ``plots_enabled=False`` skips the figures. ``data``: the family's data,
    when the caller loaded it already (the CLI does, to refuse bad data before creating
    ``run_dir``). ``loggers``: also log to these (``tensorboard``). A plain path is written as
    it is (no lock, no checks: the Python API). Resuming a finished run changes nothing: its
    report is returned as it is.
    """
    if not isinstance(run_dir, RunDir):
        run_dir = RunDir(Path(run_dir))
    started = time.perf_counter()
    observer = observer or SilentObserver()
    family = get_family(cfg.family)
    members = family.members(cfg)
    if resume and (done := finished_report(run_dir, family, members)) is not None:
        observer.log(
            f"note: {run_dir} is finished; --resume changes nothing (its report is kept; "
            "--set train.epochs=N trains it further)"
        )
        return done
    seed_everything(cfg.seed)
    data = family.data(cfg) if data is None else data
    dist = distributed.current()
    writer = dist.primary  # under torchrun only rank 0 writes files
    origin, resumes = provenance.start(
        data, run_dir / RunDir.STATE if resume else None, dist.world, dist.backend
    )
    if resumes and resumes[-1].threads_changed:
        observer.log(
            f"note: resumed with {resumes[-1].torch_threads} torch threads, the run started "
            f"with {origin.torch_threads}: the result is no longer bit-identical to an "
            "uninterrupted run (--threads sets the count)"
        )
    if writer and not resume:  # a fresh run (maybe --overwrite) leaves nothing old behind
        run_dir.forget_previous_run({m.name for m in members[1:]})
    if writer:
        run_dir.write_config(cfg)
    config_json = json.dumps(cfg.model_dump(mode="json"), sort_keys=True)
    ctx = RunContext(
        cfg,
        run_dir,
        device,
        data,
        resume,
        observer,
        stop,
        loggers,
        {"spectral.config": config_json, **provenance.stamp(origin, resumes)},
    )
    fitted = []
    for index, member in enumerate(members):
        if len(members) > 1:
            observer.log(f"model {index + 1}/{len(members)}: {member.name} (seed {member.seed})")
        fitted.append(fit_member(index, member, ctx))
    _check_stop(stop, run_dir, "before the final plots and report")
    trained = TrainedRun(
        cfg,
        run_dir,
        device,
        data,
        [f[0] for f in fitted],
        evaluate_test=evaluate_test,
        plots=plots_enabled and writer,
    )
    outcome = finish_run(family, trained)
    summaries = {
        tm.member.name: summarize(tm, state, wall, outcome.models[tm.member.name])
        for tm, state, wall, _ in fitted
    }
    for tm, _, _, log in fitted:
        log.close(flat_config(cfg), outcome.models[tm.member.name].metrics)
    primary = summaries[members[0].name]
    files = {"config": RunDir.CONFIG, "state": RunDir.STATE, "model": RunDir.MODEL}
    for tm in trained.models[1:]:
        files[f"model:{tm.member.name}"] = tm.file
    if trained.plots:
        files.update(draw_train_figures(family, trained, summaries))
    files.update(outcome.files)
    files["metrics"] = METRICS_FILE
    if loggers:
        files["tensorboard"] = TENSORBOARD_DIR
    files["report"] = RunDir.REPORT
    total = sum(s.timing.total_seconds for s in summaries.values())
    epochs = sum(s.selection.epochs_run for s in summaries.values())
    wall = time.perf_counter() - started
    if resumes:
        resumes[-1].wall_seconds = wall
    origin.ended = provenance.utc_now()
    report = TrainReport(
        config=cfg.model_dump(mode="json"),
        seed=cfg.seed,
        device=str(device),
        family=cfg.family,
        params=primary.params,
        metrics=primary.metrics,
        selection=primary.selection,
        history=primary.history,
        timing=Timing.of(total, epochs, wall),
        data=data.summary(),
        models=summaries,
        resumed=resume,
        files=files,
        extras=primary.extras,
        versions=provenance.used_versions(data),
        provenance=origin,
        resumes=resumes,
    )
    if writer:
        run_dir.write_report(report)
    _check_stop(stop, run_dir, "while the final outputs were written (they are complete)")
    return report


def finished_report(run_dir: RunDir, family: Family, members: list[Member]) -> TrainReport | None:
    """The report of a run that trained every model to its configured length, else ``None``."""
    try:
        report = TrainReport.model_validate_json((run_dir / RunDir.REPORT).read_bytes())
    except (OSError, ValueError):
        return None
    for member in members:
        summary = report.models.get(member.name)
        length = family.loop(member.cfg).epochs
        if summary is None or summary.selection.epochs_run < length:
            return None
    return report


def flat_config(cfg: RunConfig) -> dict[str, Any]:
    """The config as ``{"train.lr": 0.001, ...}`` with TensorBoard-friendly values."""
    out: dict[str, Any] = {}

    def walk(tree: dict[str, Any], prefix: str) -> None:
        for key, value in tree.items():
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}.")
            else:
                ok = isinstance(value, (bool, int, float, str))
                out[prefix + key] = value if ok else str(value)

    walk(cfg.model_dump(mode="json"), "")
    return out


def train_into(
    cfg: RunConfig,
    out: Path,
    device: torch.device,
    *,
    mode: Literal["overwrite", "finish"],
    command: str = "train",
    **options: Any,
) -> TrainReport | None:
    """Open ``out`` as a run directory and train ``cfg`` into it (``options``: those of
    :func:`run_experiment`). ``mode="overwrite"``: a fresh run whatever is there (tuning
    trials); ``"finish"``: a finished run of the same config is kept as it is (``None`` is
    returned), a cut one is resumed, anything else is replaced (final tune runs)."""
    resume = False
    if mode == "finish":
        config = out / RunDir.CONFIG
        same = config.is_file() and config.read_text(encoding="utf-8") == dump_yaml(cfg)
        if same and (out / RunDir.REPORT).is_file():
            return None
        resume = same and (out / RunDir.STATE).is_file()
    with RunDir.open(out, command, cfg.family, overwrite=not resume, resume=resume) as run_dir:
        return run_experiment(cfg, run_dir, device, resume=resume, **options)


def _check_stop(stop: StopFlag | None, run_dir: RunDir, when: str) -> None:
    """A signal that arrives after training still ends the command with exit 130."""
    if stop is not None and stop.requested:
        raise Interrupted(
            f"{stop.signal_name} {when}; the trained state is saved in {run_dir}, "
            "--resume finishes the run"
        )


def final_metrics(
    family: Family, model: torch.nn.Module, cfg: RunConfig, data: Any, device: torch.device
) -> dict[str, float | None]:
    """The family's final metrics of one model (test split included), nothing written
    (``export`` compares a model before and after a precision change with it)."""
    import tempfile

    member = Member(cfg.family, cfg, cfg.seed)
    run = TrainedRun(
        cfg,
        RunDir(Path(tempfile.gettempdir())),  # never written: plots=False
        device,
        data,
        [TrainedModel(member, model, RunDir.MODEL)],
        plots=False,
        metrics_only=True,
    )
    return finish_run(family, run).models[member.name].metrics

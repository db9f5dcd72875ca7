"""``run_experiment``: the one path from a resolved config to a finished run directory.

seed -> data -> (for each model of the run: seed -> build -> fit) -> the family's ``finish``
step (final metrics, extras and figures of every model, computed once) -> report, with resume
and interrupts, for every registered family. :func:`train_into` opens the run directory and runs
it: ``spectral train``, tuning trials and final tune runs all go through it (``train`` opens the
directory itself only because, under torchrun, rank 0 creates it for every rank). Files: see
:class:`~spectral_cli.core.runs.RunDir` and ``docs/architecture.md``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch

from spectral_cli.core import distributed, plots
from spectral_cli.core.checkpoint import model_metadata, save_tensors
from spectral_cli.core.config import dump_yaml
from spectral_cli.core.device import seed_everything
from spectral_cli.core.errors import Interrupted
from spectral_cli.core.evaluation import Observer, SilentObserver
from spectral_cli.core.registry import (
    Family,
    Member,
    ModelOutcome,
    Outcome,
    TrainedModel,
    TrainedRun,
    get_family,
)
from spectral_cli.core.report import ModelSummary, Params, Selection, Timing, TrainReport
from spectral_cli.core.runs import RunDir
from spectral_cli.core.schema import RunConfig
from spectral_cli.core.signals import StopFlag
from spectral_cli.core.trainer import LoopState, Trainer


def count_params(model: torch.nn.Module, prefix: str) -> Params:
    params = list(model.named_parameters())
    return Params(
        total=sum(p.numel() for _, p in params),
        embedding=sum(p.numel() for n, p in params if n.startswith(prefix)),
        trainable=sum(p.numel() for _, p in params if p.requires_grad),
    )


def _fit_member(
    index: int,
    member: Member,
    cfg: RunConfig,
    run_dir: RunDir,
    device: torch.device,
    data: Any,
    resume: bool,
    observer: Observer,
    stop: StopFlag | None,
) -> tuple[TrainedModel, LoopState, float]:
    """Train one model of the run; returns it with its kept weights, its loop state and the
    wall seconds it took."""
    fam = get_family(member.cfg.family)
    rel, state_rel = RunDir.model_files(index, member.name)
    model_file, state_file = run_dir / rel, run_dir / state_rel
    started = time.perf_counter()
    seed_everything(member.seed)
    model = fam.build(member.cfg, data.info).to(device)
    task = fam.task(model, member, data, device)
    meta = model_metadata(
        member.checkpoint_family or fam.name,
        member.cfg.model_dump(mode="json"),
        data_info=data.info.__dict__,
        member=member.name,
    )

    def save_model(m: torch.nn.Module) -> None:
        if distributed.current().primary:  # ranks hold identical weights; rank 0 writes
            save_tensors(model_file, m.state_dict(), meta)

    trainer = Trainer(
        model,
        task,
        fam.loop(member.cfg),
        data.train,
        data.val,
        device,
        member.seed,
        state_file,
        select=fam.select,
        state_metadata={"spectral.config": json.dumps(cfg.model_dump(mode="json"), sort_keys=True)},
        on_improved=save_model if task.keep == "best" else None,
        observer=observer,
        stop=stop,
    )
    if resume and state_file.is_file():
        trainer.load_state()
    else:  # a fresh model (maybe --overwrite): drop what an earlier run left, then checkpoint
        if distributed.current().primary:
            model_file.unlink(missing_ok=True)
        trainer.save_state()
    try:
        state = trainer.fit()
    except Interrupted as exc:  # resuming means resuming the whole run
        raise Interrupted(str(exc).replace(str(state_file.parent), str(run_dir))) from None
    if task.keep == "best":
        model.load_state_dict(trainer.best_weights)
    save_model(model)
    return TrainedModel(member, model, rel, task.keep), state, time.perf_counter() - started


def _summary(
    trained: TrainedModel,
    state: LoopState,
    wall: float,
    outcome: ModelOutcome,
) -> ModelSummary:
    fam = get_family(trained.member.cfg.family)
    seconds = sum(h["seconds"] for h in state.history)
    n = len(state.history)
    return ModelSummary(
        family=trained.member.checkpoint_family or fam.name,
        file=trained.file,
        seed=trained.member.seed,
        params=count_params(trained.model, fam.embedding_prefix),
        metrics=outcome.metrics,
        selection=Selection(
            metric=fam.select.name,
            mode=fam.select.mode,
            best_epoch=state.best_epoch,
            best_value=state.best_value,
            epochs_run=n,
            kept=trained.keep,
        ),
        history=state.history,
        timing=Timing(
            total_seconds=seconds,
            seconds_per_epoch=seconds / max(n, 1),
            wall_seconds=wall,
            torch_threads=torch.get_num_threads(),
        ),
        extras=outcome.extras,
    )


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
) -> TrainReport:
    """Train every model of ``cfg``'s run into ``run_dir``; write and return the report.

    ``evaluate_test=False`` (``spectral tune`` trials) never touches the test split: the test
    metrics are null. ``plots_enabled=False`` skips the figures. ``data``: the family's data,
    when the caller loaded it already (the CLI does, to refuse bad data before creating
    ``run_dir``). A plain path is written as it is (no lock, no checks: the Python API).
    """
    if not isinstance(run_dir, RunDir):
        run_dir = RunDir(Path(run_dir))
    started = time.perf_counter()
    observer = observer or SilentObserver()
    family = get_family(cfg.family)
    seed_everything(cfg.seed)
    data = family.data(cfg) if data is None else data
    writer = distributed.current().primary  # under torchrun only rank 0 writes files
    members = family.members(cfg)
    if writer and not resume:  # a fresh run (maybe --overwrite) leaves nothing old behind
        run_dir.forget_report()
        run_dir.forget_models({m.name for m in members[1:]})
    if writer:
        run_dir.write_config(cfg)
    fitted = []
    for index, member in enumerate(members):
        if len(members) > 1:
            observer.log(f"model {index + 1}/{len(members)}: {member.name} (seed {member.seed})")
        fitted.append(
            _fit_member(index, member, cfg, run_dir, device, data, resume, observer, stop)
        )
    _check_stop(stop, run_dir, "before the final plots and report")
    trained = TrainedRun(
        cfg,
        run_dir,
        device,
        data,
        [tm for tm, _, _ in fitted],
        evaluate_test=evaluate_test,
        plots=plots_enabled and writer,
    )
    outcome = finish_run(family, trained)
    summaries = {
        tm.member.name: _summary(tm, state, wall, outcome.models[tm.member.name])
        for tm, state, wall in fitted
    }
    primary = summaries[members[0].name]
    files = {"config": RunDir.CONFIG, "state": RunDir.STATE, "model": RunDir.MODEL}
    for tm in trained.models[1:]:
        files[f"model:{tm.member.name}"] = tm.file
    if trained.plots:
        curves: dict[str, tuple[Sequence[dict[str, float]], int]] = {
            n: (s.history, s.selection.best_epoch) for n, s in summaries.items()
        }
        plots.training_curves(
            curves,
            primary.selection.metric,
            f"{cfg.family} (seed {cfg.seed})",
            run_dir / "curves.png",
            unit="step" if family.unit == "steps" else "epoch",
        )
        files["curves"] = "curves.png"
    files.update(outcome.files)
    files["report"] = RunDir.REPORT
    total = sum(s.timing.total_seconds for s in summaries.values())
    epochs = sum(s.selection.epochs_run for s in summaries.values())
    report = TrainReport(
        config=cfg.model_dump(mode="json"),
        seed=cfg.seed,
        device=str(device),
        family=cfg.family,
        params=primary.params,
        metrics=primary.metrics,
        selection=primary.selection,
        history=primary.history,
        timing=Timing(
            total_seconds=total,
            seconds_per_epoch=total / max(epochs, 1),
            wall_seconds=time.perf_counter() - started,
            torch_threads=torch.get_num_threads(),
        ),
        data=data.summary(),
        models=summaries,
        resumed=resume,
        files=files,
        extras=primary.extras,
    )
    if writer:
        run_dir.write_report(report)
    _check_stop(stop, run_dir, "while the final outputs were written (they are complete)")
    return report


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

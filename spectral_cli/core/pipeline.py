"""``run_experiment``: the one path from a resolved config to a finished run directory.

seed -> data -> (for each model of the run: seed -> build -> fit -> final evaluation) -> report
-> artifacts, with resume and interrupts, for every registered family. Files of a run directory:
``config.yaml`` (resolved config), ``state.safetensors`` (resume state of the primary model),
``model.safetensors`` (its kept weights), for every further model ``models/<name>.safetensors``
and ``states/<name>.safetensors``, ``report.json``, ``curves.png`` and the family's own plots.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from spectral_cli.core import distributed, plots
from spectral_cli.core.atomic import write_text_atomic
from spectral_cli.core.checkpoint import load_checkpoint, model_metadata, save_tensors
from spectral_cli.core.config import (
    apply_sets,
    deep_merge,
    dump_yaml,
    parse_set,
    presets_dir,
    read_yaml,
    resolve,
    validate,
)
from spectral_cli.core.device import seed_everything
from spectral_cli.core.errors import BadInput, Interrupted
from spectral_cli.core.registry import Family, Member, get_family
from spectral_cli.core.report import ModelSummary, Params, Selection, Timing, TrainReport
from spectral_cli.core.runs import STATE_FILE
from spectral_cli.core.schema import RunConfig
from spectral_cli.core.signals import StopFlag
from spectral_cli.core.trainer import STATE_FAMILY, Observer, SilentObserver, Trainer


def resolve_train_config(
    family: str, config_file: Path | None, sets: Iterable[str], seed: int | None = None
) -> RunConfig:
    """Schema defaults < ``configs/<family>.yaml`` < ``--config`` < ``--set`` < ``--seed``."""
    spec = get_family(family)
    if config_file is not None:
        declared = read_yaml(config_file).get("family", family)
        if declared != family:
            raise BadInput(f"config file {config_file} is for family {declared!r}, not {family!r}")
    sets = list(sets)
    for parts, value in parse_set(sets):  # the family is the command's argument, not a setting
        if parts == ["family"] and value != family:
            raise BadInput(
                f"--set family={value}: the family is {family!r} (the command's "
                f"argument); run 'spectral train {value or 'FAMILY'}' instead"
            )
    fixed: dict[str, Any] = {"family": family}
    if seed is not None:
        fixed["seed"] = seed
    return resolve(spec.config, presets_dir() / spec.preset, config_file, sets, fixed)  # type: ignore[no-any-return]


def resume_train_config(
    run_dir: Path, family: str, sets: Iterable[str], seed: int | None = None
) -> RunConfig:
    """The config saved in ``run_dir``'s state; ``--set`` may only change the run's length
    (``train.epochs``, or ``train.steps`` for step-based families)."""
    spec = get_family(family)
    _, meta = load_checkpoint(run_dir / STATE_FILE, STATE_FAMILY)
    try:
        saved = json.loads(meta.get("spectral.config", "{}"))
    except ValueError:
        saved = None
    if not isinstance(saved, dict):
        raise BadInput(f"--resume: {run_dir / STATE_FILE} holds no readable config")
    if saved.get("family") != family:
        raise BadInput(f"--resume: {run_dir} is a {saved.get('family')!r} run, not {family!r}")
    data = apply_sets(saved, parse_set(sets))
    if seed is not None:
        data = deep_merge(data, {"seed": seed})
    merged = validate(spec.config, data, "--set")
    a, b = merged.model_dump(mode="json"), dict(saved)
    length = ("epochs", "steps")
    a["train"] = {k: v for k, v in a["train"].items() if k not in length}
    b["train"] = {k: v for k, v in b.get("train", {}).items() if k not in length}
    if a != b:
        raise BadInput(
            "--resume may only change train.epochs (or train.steps); "
            "start a new run for other changes"
        )
    return merged  # type: ignore[no-any-return]


def count_params(model: torch.nn.Module, prefix: str) -> Params:
    params = list(model.named_parameters())
    return Params(
        total=sum(p.numel() for _, p in params),
        embedding=sum(p.numel() for n, p in params if n.startswith(prefix)),
        trainable=sum(p.numel() for _, p in params if p.requires_grad),
    )


@dataclass
class TrainedModel:
    """One trained model of a run, as the family's artifacts see it."""

    member: Member
    family: Family
    model: torch.nn.Module
    summary: ModelSummary
    state_file: Path


@dataclass
class RunResult:
    """What :func:`run_experiment` hands to a family's ``artifacts``."""

    cfg: RunConfig
    run_dir: Path
    device: torch.device
    data: Any
    models: list[TrainedModel] = field(default_factory=list)


def member_paths(run_dir: Path, index: int, name: str) -> tuple[str, Path]:
    """(model file relative to the run directory, state file) of the run's ``index``-th model."""
    if index == 0:
        return "model.safetensors", run_dir / STATE_FILE
    return f"models/{name}.safetensors", run_dir / "states" / f"{name}.safetensors"


def _train_member(
    index: int,
    member: Member,
    run: RunResult,
    resume: bool,
    observer: Observer,
    stop: StopFlag | None,
    evaluate_test: bool,
) -> TrainedModel:
    fam = get_family(member.cfg.family)
    rel, state_file = member_paths(run.run_dir, index, member.name)
    model_file = run.run_dir / rel
    started = time.perf_counter()
    seed_everything(member.seed)
    model = fam.build(member.cfg, run.data.info).to(run.device)
    task = fam.task(model, member.cfg, run.data, run.device, member)
    config_json = member.cfg.model_dump(mode="json")
    meta = model_metadata(
        member.checkpoint_family or fam.name,
        config_json,
        data_info=run.data.info.__dict__,
        member=member.name,
    )

    def save_model(m: torch.nn.Module) -> None:
        if distributed.current().primary:  # ranks hold identical weights; rank 0 writes
            save_tensors(model_file, m.state_dict(), meta)

    loop_cfg = fam.loop_config(member.cfg)
    trainer = Trainer(
        model,
        loop_cfg,
        run.data.train,
        run.data.val,
        run.device,
        member.seed,
        state_file,
        state_metadata={
            "spectral.config": json.dumps(run.cfg.model_dump(mode="json"), sort_keys=True)
        },
        on_improved=save_model if task.keep == "best" else None,
        observer=observer,
        stop=stop,
        loss_fn=task.loss,
        evaluate_fn=task.evaluate,
        on_epoch_start=task.on_epoch_start,
        select=task.select,
        mode=task.mode,
        select_from_epoch=task.select_from_epoch,
        optimizer=task.optimizer,
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
        raise Interrupted(str(exc).replace(str(state_file.parent), str(run.run_dir))) from None
    if task.keep == "best":
        model.load_state_dict(trainer.best_weights)
    save_model(model)
    metrics = fam.metrics(model, member.cfg, run.data, run.device, evaluate_test)
    extras = (
        fam.extras(model, member.cfg, run.data, run.device, evaluate_test) if fam.extras else {}
    )
    seconds = sum(h["seconds"] for h in state.history)
    n = len(state.history)
    summary = ModelSummary(
        family=member.checkpoint_family or fam.name,
        file=rel,
        seed=member.seed,
        params=count_params(model, fam.embedding_prefix),
        metrics=metrics,
        selection=Selection(
            metric=task.select,
            mode=task.mode,
            best_epoch=state.best_epoch,
            best_value=state.best_value,
            epochs_run=n,
            kept=task.keep,
        ),
        history=state.history,
        timing=Timing(
            total_seconds=seconds,
            seconds_per_epoch=seconds / max(n, 1),
            wall_seconds=time.perf_counter() - started,
            torch_threads=torch.get_num_threads(),
        ),
        extras=extras,
    )
    return TrainedModel(member, fam, model, summary, state_file)


def run_experiment(
    cfg: RunConfig,
    run_dir: Path,
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
    metrics are null. ``plots_enabled=False`` skips the PNGs. ``data``: the family's data, when
    the caller loaded it already (the CLI does, to refuse bad data before creating ``run_dir``).
    """
    started = time.perf_counter()
    observer = observer or SilentObserver()
    family = get_family(cfg.family)
    seed_everything(cfg.seed)
    data = family.data(cfg) if data is None else data
    writer = distributed.current().primary  # under torchrun only rank 0 writes files
    if writer and not resume:  # a fresh run (maybe --overwrite) leaves no old report behind
        (run_dir / "report.json").unlink(missing_ok=True)
    if writer:
        write_text_atomic(run_dir / "config.yaml", dump_yaml(cfg))
    run = RunResult(cfg, run_dir, device, data)
    members = family.run_members(cfg)
    for index, member in enumerate(members):
        if len(members) > 1:
            observer.log(f"model {index + 1}/{len(members)}: {member.name} (seed {member.seed})")
        run.models.append(_train_member(index, member, run, resume, observer, stop, evaluate_test))
    _check_stop(stop, run_dir, "before the final plots and report")
    primary = run.models[0].summary
    files = {"config": "config.yaml", "state": STATE_FILE, "model": "model.safetensors"}
    for tm in run.models[1:]:
        files[f"model:{tm.member.name}"] = tm.summary.file
    if plots_enabled and writer:
        curves = {
            tm.member.name: (tm.summary.history, tm.summary.selection.best_epoch)
            for tm in run.models
        }
        plots.training_curves(
            curves,
            primary.selection.metric,
            f"{cfg.family} (seed {cfg.seed})",
            run_dir / "curves.png",
            unit="step" if family.unit == "steps" else "epoch",
        )
        files["curves"] = "curves.png"
        if family.artifacts is not None:
            files.update(family.artifacts(run))
    files["report"] = "report.json"
    total = sum(tm.summary.timing.total_seconds for tm in run.models)
    epochs = sum(tm.summary.selection.epochs_run for tm in run.models)
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
        models={tm.member.name: tm.summary for tm in run.models},
        resumed=resume,
        files=files,
        extras=primary.extras,
    )
    if writer:
        write_text_atomic(run_dir / "report.json", report.model_dump_json(indent=2) + "\n")
    _check_stop(stop, run_dir, "while the final outputs were written (they are complete)")
    return report


def _check_stop(stop: StopFlag | None, run_dir: Path, when: str) -> None:
    """A signal that arrives after training still ends the command with exit 130."""
    if stop is not None and stop.requested:
        raise Interrupted(
            f"{stop.signal_name} {when}; the trained state is saved in {run_dir}, "
            "--resume finishes the run"
        )

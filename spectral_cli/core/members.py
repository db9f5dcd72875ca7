"""Training one model of a run and summarizing it for the report."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from spectral_cli.core import distributed
from spectral_cli.core.checkpoint import model_metadata, save_tensors
from spectral_cli.core.device import seed_everything
from spectral_cli.core.errors import Interrupted
from spectral_cli.core.evaluation import Observer
from spectral_cli.core.metrics_log import EpochLog
from spectral_cli.core.registry import Member, ModelOutcome, TrainedModel, get_family
from spectral_cli.core.report import ModelSummary, Params, Selection, Timing
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


@dataclass
class RunContext:
    """What every model of one run shares while it trains."""

    cfg: RunConfig
    run_dir: RunDir
    device: torch.device
    data: Any
    resume: bool
    observer: Observer
    stop: StopFlag | None
    loggers: tuple[str, ...] = ()
    #: resume-state metadata besides the loop's own (the run's config and provenance)
    state_metadata: dict[str, str] = field(default_factory=dict)


def fit_member(
    index: int, member: Member, ctx: RunContext
) -> tuple[TrainedModel, LoopState, float, EpochLog]:
    """Train one model of the run; returns it with its kept weights, its loop state, the wall
    seconds it took and its epoch log (closed by the caller after the final step)."""
    run_dir, data, device = ctx.run_dir, ctx.data, ctx.device
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

    loop = fam.loop(member.cfg)
    primary = distributed.current().primary
    log = EpochLog(ctx.observer, run_dir.path, member.name, ctx.loggers, enabled=primary)
    trainer = Trainer(
        model,
        task,
        loop,
        data.train,
        data.val,
        device,
        member.seed,
        state_file,
        select=fam.select,
        state_metadata=ctx.state_metadata,
        on_improved=save_model if task.keep == "best" else None,
        observer=log,
        stop=ctx.stop,
    )
    if ctx.resume and state_file.is_file():
        trainer.load_state()
    else:  # a fresh model (maybe --overwrite): drop what an earlier run left, then checkpoint
        if primary:
            model_file.unlink(missing_ok=True)
        trainer.save_state()
    steps = math.ceil(int(data.train.y.shape[0]) / loop.batch_size)
    log.resume_at(trainer.state.epoch, steps)
    try:
        state = trainer.fit()
    except Interrupted as exc:  # resuming means resuming the whole run
        raise Interrupted(str(exc).replace(str(state_file.parent), str(run_dir))) from None
    if task.keep == "best":
        model.load_state_dict(trainer.best_weights)
    save_model(model)
    wall = time.perf_counter() - started
    return TrainedModel(member, model, rel, task.keep), state, wall, log


def summarize(
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
        timing=Timing.of(seconds, n, wall),
        extras=outcome.extras,
    )

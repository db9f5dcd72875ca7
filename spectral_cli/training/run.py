"""``spectral train FAMILY``: resolve the config, train with :class:`Trainer`, write the run.

Files written in the run directory: ``config.yaml`` (resolved config), ``state.safetensors``
(resume state), ``model.safetensors`` (weights of the best-validation epoch), ``report.json``,
``curves.png`` and the family's own plots.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from spectral_cli.config.loader import deep_merge, dump_yaml, presets_dir, read_yaml, resolve
from spectral_cli.config.schema import RunConfig, run_config_class
from spectral_cli.data.tokens import load_token_data
from spectral_cli.errors import BadInput
from spectral_cli.io import plots
from spectral_cli.io.atomic import write_text_atomic
from spectral_cli.io.checkpoint import load_checkpoint, model_metadata, save_tensors
from spectral_cli.io.report import (
    DataSummary,
    EpochRecord,
    Params,
    Timing,
    TrainMetrics,
    TrainReport,
    write_report,
)
from spectral_cli.io.rundir import STATE_FILE
from spectral_cli.models.registry import FamilySpec, get_family
from spectral_cli.models.token_classifiers import TokenDataInfo
from spectral_cli.training.device import seed_everything
from spectral_cli.training.interrupt import StopFlag
from spectral_cli.training.loop import STATE_FAMILY, Observer, Trainer, evaluate


def config_class(spec: FamilySpec) -> type[RunConfig]:
    """The family's complete run schema."""
    if spec.run_config is not None:
        return spec.run_config  # type: ignore[no-any-return]
    return run_config_class(spec.name, spec.config_cls)


def runner_for(spec: FamilySpec) -> Any:
    """The function that trains this family (default: :func:`train_run`)."""
    return spec.runner if spec.runner is not None else train_run


def resolve_train_config(
    family: str, config_file: Path | None, sets: Iterable[str], seed: int | None = None
) -> RunConfig:
    """Schema defaults < ``configs/<family>.yaml`` < ``--config`` < ``--set`` < ``--seed``."""
    spec = get_family(family)
    if config_file is not None:
        declared = read_yaml(config_file).get("family", family)
        if declared != family:
            raise BadInput(f"config file {config_file} is for family {declared!r}, not {family!r}")
    fixed: dict[str, Any] = {"family": family}
    if seed is not None:
        fixed["seed"] = seed
    return resolve(config_class(spec), presets_dir() / spec.preset, config_file, sets, fixed)  # type: ignore[no-any-return]


def resume_train_config(
    run_dir: Path, family: str, sets: Iterable[str], seed: int | None = None
) -> RunConfig:
    """The config saved in ``run_dir``'s state; ``--set`` may only change ``train.epochs``
    (``train.steps`` for step-based families)."""
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
    fixed = {"seed": seed} if seed is not None else None
    merged = resolve_from(config_class(spec), saved, sets, fixed)
    a, b = merged.model_dump(mode="json"), dict(saved)
    length = ("epochs", "steps")  # step-based families (spectra-lstm) count train.steps
    a["train"] = {k: v for k, v in a["train"].items() if k not in length}
    b["train"] = {k: v for k, v in b.get("train", {}).items() if k not in length}
    if a != b:
        raise BadInput(
            "--resume may only change train.epochs (or train.steps); "
            "start a new run for other changes"
        )
    return merged


def resolve_from(
    cls: type[RunConfig], base: dict[str, Any], sets: Iterable[str], fixed: dict[str, Any] | None
) -> RunConfig:
    from spectral_cli.config.loader import apply_sets, parse_set, validate

    data = apply_sets(base, parse_set(sets))
    if fixed:
        data = deep_merge(data, fixed)
    return validate(cls, data, "--set")  # type: ignore[no-any-return]


def count_params(model: torch.nn.Module, prefix: str) -> Params:
    params = list(model.named_parameters())
    return Params(
        total=sum(p.numel() for _, p in params),
        embedding=sum(p.numel() for n, p in params if n.startswith(prefix)),
        trainable=sum(p.numel() for _, p in params if p.requires_grad),
    )


def load_family_data(spec: FamilySpec, cfg: RunConfig) -> tuple[Any, Any]:
    """(splits, what the builder needs) for the family's ``data_kind``: quantized tokens by
    default, float vectors for ``data_kind="vectors"`` (the MLP families)."""
    if spec.data_kind == "vectors":
        from spectral_cli.data.vectors import load_vector_data

        vectors = load_vector_data(cfg.data)  # type: ignore[arg-type]
        return vectors, vectors.info
    data = load_token_data(cfg.data)
    return data, TokenDataInfo(data.vocab_size, data.seq_len, data.num_classes)


def train_run(
    cfg: RunConfig,
    run_dir: Path,
    device: torch.device,
    *,
    resume: bool = False,
    observer: Observer | None = None,
    stop: StopFlag | None = None,
    evaluate_test: bool = True,
    plots_enabled: bool = True,
) -> TrainReport:
    """Train ``cfg`` into ``run_dir`` and return the report (also written as report.json).

    ``evaluate_test=False`` (used by ``spectral tune``) never touches the test split: the report's
    test metrics are null. ``plots_enabled=False`` skips the PNGs.
    """
    spec = get_family(cfg.family)
    seed_everything(cfg.seed)
    data, info = load_family_data(spec, cfg)
    model = spec.build(cfg.model, info).to(device)
    config_json = cfg.model_dump(mode="json")
    meta = model_metadata(cfg.family, config_json, data_info=info.__dict__)
    write_text_atomic(run_dir / "config.yaml", dump_yaml(cfg))

    def save_model(m: torch.nn.Module) -> None:
        save_tensors(run_dir / "model.safetensors", m.state_dict(), meta)

    trainer = Trainer(
        model,
        cfg.train,
        data.train,
        data.val,
        device,
        cfg.seed,
        run_dir / STATE_FILE,
        state_metadata={"spectral.config": meta["spectral.config"]},
        on_improved=save_model,
        observer=observer,
        stop=stop,
        optimizer=spec.make_optimizer(model, cfg) if spec.make_optimizer is not None else None,
    )
    if resume:
        trainer.load_state()
    else:  # a fresh run (maybe --overwrite): drop what an earlier run left, then checkpoint
        for stale in ("model.safetensors", "report.json"):
            (run_dir / stale).unlink(missing_ok=True)
        trainer.save_state()
    started = time.perf_counter()
    state = trainer.fit()
    model.load_state_dict(trainer.best_weights)
    save_model(model)
    bs = cfg.train.eval_batch_size
    test_loss, test_acc = evaluate(model, data.test, bs, device) if evaluate_test else (None, None)
    val_loss, val_acc = evaluate(model, data.val, bs, device)
    _, train_acc = evaluate(model, data.train, bs, device)
    history = [EpochRecord(**h) for h in state.history]  # type: ignore[arg-type]
    total = sum(h.seconds for h in history)
    files = {"model": "model.safetensors", "state": STATE_FILE, "config": "config.yaml"}
    if plots_enabled:
        title = f"{cfg.family} (seed {cfg.seed})"
        plots.training_curves(state.history, state.best_epoch, title, run_dir / "curves.png")
        files["curves"] = "curves.png"
        if spec.artifacts is not None:
            files.update(spec.artifacts(model, run_dir))
    files["report"] = "report.json"
    report = TrainReport(
        config=config_json,
        seed=cfg.seed,
        device=str(device),
        family=cfg.family,
        params=count_params(model, spec.embedding_prefix),
        metrics=TrainMetrics(
            test_acc=test_acc,
            test_loss=test_loss,
            val_acc=val_acc,
            val_loss=val_loss,
            train_acc=train_acc,
            best_epoch=state.best_epoch,
            epochs_run=len(history),
        ),
        history=history,
        timing=Timing(
            total_seconds=total,
            seconds_per_epoch=total / max(len(history), 1),
            wall_seconds=time.perf_counter() - started,
        ),
        data=DataSummary(
            source=data.source,
            n_train=len(data.train),
            n_val=len(data.val),
            n_test=len(data.test),
            vocab_size=data.vocab_size,
            seq_len=data.seq_len,
            num_classes=data.num_classes,
        ),
        resumed=resume,
        files=files,
        extras=spec.report_extras(model, cfg) if spec.report_extras is not None else {},
    )
    write_report(run_dir / "report.json", report)
    return report

"""``spectral train hae``: train the harmonic autoencoder (and the SAE baseline) and report.

Run directory: ``config.yaml``, ``state.safetensors`` (HAE resume state), ``model.safetensors``
(family ``hae``, the selected HAE weights), with ``--baseline sae`` also
``sae_state.safetensors`` and ``sae.safetensors`` (family ``hae-sae-baseline``);
``harmony_hist.png`` (test harmony of valid vs invalid inputs per model) and ``report.json``.
Both models train with the generic :class:`~spectral_cli.training.loop.Trainer`; the SAE starts
from the same initial weights as the HAE (the run seed is re-applied before building it).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from pydantic import Field

from spectral_cli.analysis import hae_eval
from spectral_cli.config.loader import dump_yaml
from spectral_cli.data.invalid import SignalData, invalid_sets, load_signal_data
from spectral_cli.io.atomic import write_text_atomic
from spectral_cli.io.checkpoint import model_metadata, save_tensors
from spectral_cli.io.harmony_plots import harmony_histograms
from spectral_cli.io.report import Report, write_report
from spectral_cli.io.rundir import STATE_FILE
from spectral_cli.models.hae import FAMILY, SAE_FAMILY, HAERunConfig, build_hae
from spectral_cli.training.device import seed_everything
from spectral_cli.training.hae_objective import (
    HAEObjective,
    SAEObjective,
    score_kwargs,
    validation_fn,
)
from spectral_cli.training.interrupt import StopFlag
from spectral_cli.training.loop import Observer, Trainer

SAE_STATE_FILE = "sae_state.safetensors"


class ModelResult(hae_eval.Detection):
    """Test-split results of one autoencoder (selected weights)."""

    params: int
    best_epoch: int
    test_mse: float
    superposition: dict[str, float]
    history: list[dict[str, float]]
    seconds: float


class HAETrainReport(Report):
    """``spectral train hae`` report: ``models`` holds ``hae`` and, with a baseline, ``sae``."""

    command: str = "train"
    family: str = FAMILY
    models: dict[str, ModelResult]
    data: dict[str, Any]
    wall_seconds: float
    resumed: bool = False
    files: dict[str, str] = Field(default_factory=dict)

    def summary(self) -> str:
        parts = []
        for name, m in self.models.items():
            parts.append(
                f"{name}: test MSE {m.test_mse:.4f}, AUROC {m.auroc:.3f}, "
                f"superposition rel. error {m.superposition['rel_err_vs_inputs']:.3f}"
            )
        return "; ".join(parts)


def _train_one(
    name: str, cfg: HAERunConfig, data: SignalData, x_val_inv: torch.Tensor, run_dir: Path,
    device: torch.device, resume: bool, observer: Observer | None, stop: StopFlag | None,
) -> tuple[torch.nn.Module, int, list[dict[str, float]], float]:
    seed_everything(cfg.seed)
    model = build_hae(cfg.model, data.signal_length).to(device)
    is_hae = name == "hae"
    objective = HAEObjective(cfg.model, cfg.train.epochs) if is_hae else SAEObjective(cfg.model)
    config_json = cfg.model_dump(mode="json")
    meta = model_metadata(FAMILY if is_hae else SAE_FAMILY, config_json,
                          data_info={"signal_length": data.signal_length})
    model_file = run_dir / ("model.safetensors" if is_hae else "sae.safetensors")
    state_file = run_dir / (STATE_FILE if is_hae else SAE_STATE_FILE)

    def save_model(m: torch.nn.Module) -> None:
        save_tensors(model_file, m.state_dict(), meta)

    trainer = Trainer(
        model, cfg.train, data.train, data.val, device, cfg.seed, state_file,
        state_metadata={"spectral.config": meta["spectral.config"]},
        on_improved=save_model, observer=observer, stop=stop, loss_fn=objective,
        evaluate_fn=validation_fn(objective, data.val.x, x_val_inv, device),
        on_epoch_start=getattr(objective, "set_epoch", None),
        select_on="loss",
        select_from_epoch=objective.curriculum.select_from_epoch() if is_hae else 1,
    )
    if resume and state_file.is_file():
        trainer.load_state()
    if observer is not None:
        observer.log(f"{name}: training {cfg.train.epochs} epochs")
    state = trainer.fit()
    model.load_state_dict(trainer.best_weights)
    save_model(model)
    seconds = sum(h["seconds"] for h in state.history)
    return model, state.best_epoch, state.history, seconds


def train_hae_run(
    cfg: HAERunConfig, run_dir: Path, device: torch.device, *, resume: bool = False,
    observer: Observer | None = None, stop: StopFlag | None = None,
) -> HAETrainReport:
    """Train ``cfg`` into ``run_dir``; returns the report (also written as report.json)."""
    started = time.perf_counter()
    data = load_signal_data(cfg.data)
    write_text_atomic(run_dir / "config.yaml", dump_yaml(cfg))
    val_inv = torch.cat(list(invalid_sets(data.val.x, data.val.y, cfg.data.invalid_seed).values()))
    test_inv = invalid_sets(data.test.x, data.test.y, cfg.data.invalid_seed + 1)
    kwargs = score_kwargs(cfg.model)
    names = ["hae"] + (["sae"] if cfg.model.baseline == "sae" else [])
    results: dict[str, ModelResult] = {}
    values: dict[str, dict[str, Any]] = {}
    for name in names:
        model, best, history, seconds = _train_one(
            name, cfg, data, val_inv, run_dir, device, resume, observer, stop
        )
        detection, values[name] = hae_eval.detector(model, data.test.x, test_inv, device, kwargs)
        results[name] = ModelResult(
            params=sum(p.numel() for p in model.parameters()),
            best_epoch=best,
            test_mse=hae_eval.reconstruction_mse(model, data.test.x, device),
            **detection.model_dump(),
            superposition=hae_eval.superposition(
                model, data.test.x, cfg.data.n_pairs, cfg.data.invalid_seed, device, kwargs
            ),
            history=history,
            seconds=seconds,
        )
    files = {"model": "model.safetensors", "state": STATE_FILE, "config": "config.yaml"}
    if "sae" in names:
        files.update({"sae_model": "sae.safetensors", "sae_state": SAE_STATE_FILE})
    title = f"test harmony H ({cfg.model.variant})"
    harmony_histograms(values, title, run_dir / "harmony_hist.png")
    files.update({"histogram": "harmony_hist.png", "report": "report.json"})
    report = HAETrainReport(
        config=cfg.model_dump(mode="json"), seed=cfg.seed, device=str(device), models=results,
        data={"source": data.source, "n_train": len(data.train), "n_val": len(data.val),
              "n_test": len(data.test), "signal_length": data.signal_length,
              "invalid_kinds": list(test_inv)},
        wall_seconds=time.perf_counter() - started, resumed=resume, files=files,
    )
    write_report(run_dir / "report.json", report)
    return report

"""The spectra-lstm family's final step: metrics, drift extras, verify checkpoints, figures.

Per model, besides the pipeline's files: ``<init>/spectra_lstm.safetensors`` (``spectral
verify-lstm --checkpoint`` runs it) and ``<init>/weight_hh.png`` (init vs trained); the report's
``models.<init>.extras`` hold the drift per ``weight_hh`` block, the distance to the
construction and ``verify-lstm`` on the trained weights.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from spectral_cli.core.checkpoint import model_metadata, save_tensors
from spectral_cli.core.evaluation import evaluate
from spectral_cli.core.registry import ModelOutcome, Outcome, TrainedRun
from spectral_cli.spectra_lstm import reference
from spectral_cli.spectra_lstm.config import SpectraLSTMRunConfig
from spectral_cli.spectra_lstm.data import SpectraData
from spectral_cli.spectra_lstm.models import (
    SpectraCell,
    block_drift,
    build,
    theta_hh_of,
    weight_hh_of,
)
from spectral_cli.spectra_lstm.verify import (
    CHECKPOINT,
    STANDARD_FAMILY,
    relative_errors,
    save_cell,
    verify_standard,
)

NAME = "spectra-lstm"


def nmse_loss(norm: float) -> Any:
    def loss_fn(model: nn.Module, x: Tensor, y: Tensor) -> tuple[Tensor, None]:
        return (model(x) - y).square().mean() / norm, None

    return loss_fn


def eval_batch(cfg: SpectraLSTMRunConfig) -> int:
    return max(cfg.train.batch_size, 256)


@torch.no_grad()
def metrics(
    model: nn.Module,
    cfg: SpectraLSTMRunConfig,
    data: SpectraData,
    device: torch.device,
    evaluate_test: bool,
) -> dict[str, float | None]:
    """``test_nmse`` and the relative errors of the test spectra (final weights)."""
    loss, bs, T = nmse_loss(data.info.loss_normalizer), eval_batch(cfg), cfg.model.window
    out: dict[str, float | None] = {
        "test_nmse": None,
        "test_max_rel_error": None,
        "test_median_rel_error": None,
    }
    if evaluate_test:
        model.eval()
        pred = torch.cat(
            [model(data.test.x[i : i + bs].to(device)).cpu() for i in range(0, len(data.test), bs)]
        )
        rel = relative_errors(pred.reshape(-1, T), data.test.y.double().reshape(-1, T))
        out.update(
            test_nmse=evaluate(model, data.test, bs, device, loss)[0],
            test_max_rel_error=float(rel.max()),
            test_median_rel_error=float(rel.median()),
        )
    out["val_nmse"] = evaluate(model, data.val, bs, device, loss)[0]
    out["train_nmse"] = evaluate(model, data.train, bs, device, loss)[0]
    return out


def _verify(model: nn.Module, data: SpectraData, device: torch.device) -> Any:
    if isinstance(model, SpectraCell):
        return reference.verify(model.weights(), data.verify_x, device=device)
    return verify_standard(model, data.verify_x.to(device), None)


def extras(
    model: nn.Module,
    cfg: SpectraLSTMRunConfig,
    data: SpectraData,
    device: torch.device,
    evaluate_test: bool,
) -> dict[str, Any]:
    """Drift of ``weight_hh`` per block from the init and from the construction, and
    ``verify-lstm`` on the trained weights."""
    init_model = build(cfg, data.info)  # the same seed rebuilds the same initial weights
    init_whh, init_theta = weight_hh_of(init_model).cpu(), theta_hh_of(init_model).cpu()
    after_whh, after_theta = weight_hh_of(model).cpu(), theta_hh_of(model).cpu()
    ref = reference.construct(
        cfg.model.window,
        reference.resolve_dtype(cfg.model.dtype),
        input_bound=data.info.input_bound,
    )
    blocks, is_cell = ref.blocks, isinstance(model, SpectraCell)
    construction_whh = ref.weight_hh.double()
    scale = model.scale_weight_hh.cpu().double() if isinstance(model, SpectraCell) else 1.0
    ref_theta = construction_whh / scale
    bs = eval_batch(cfg)
    step0 = evaluate(
        init_model.to(device), data.val, bs, device, nmse_loss(data.info.loss_normalizer)
    )[0]
    ver = _verify(model, data, device)
    return {
        "cell": "contract (tanh input gate)" if is_cell else "nn.LSTM (sigmoid input gate)",
        "parameterization": "natural units" if cfg.model.init in ("exact", "perturbed") else "raw",
        "step0_val_nmse": step0,
        "steps": cfg.train.epochs * cfg.train.eval_every,
        "hidden_size": ref.hidden_size,
        "drift_from_init": block_drift(init_whh, after_whh, blocks),
        "drift_natural": block_drift(init_theta, after_theta, blocks),
        "distance_to_construction": block_drift(construction_whh, after_whh, blocks),
        "construction_distance_natural_init": block_drift(ref_theta, init_theta, blocks),
        "construction_distance_natural": block_drift(ref_theta, after_theta, blocks),
        "verify": {
            "passed": bool(ver.passed),
            "max_error": _finite(ver.max_error),
            "tol": ver.tol,
            "worst_window": ver.worst_window,
            "worst_bin": ver.worst_bin,
            "windows": ver.windows,
            "note": ver.note,
        },
    }


def checkpoints(run: TrainedRun) -> dict[str, str]:
    """Per model: the ``verify-lstm`` checkpoint ``<init>/spectra_lstm.safetensors``."""
    files: dict[str, str] = {}
    cfg_json = run.cfg.model_dump(mode="json")
    for trained in run.models:
        cfg, model, init = trained.member.cfg, trained.model, trained.member.name
        sub = run.run_dir / init
        sub.mkdir(exist_ok=True)
        config = model_metadata(NAME, cfg_json)["spectral.config"]
        if isinstance(model, SpectraCell):
            save_cell(sub / CHECKPOINT, model.weights(), run_config=config, init=init)
        else:
            ref_h = reference.construct(cfg.model.window, torch.float64).hidden_size
            std = {
                "window": cfg.model.window,
                "hidden_size": ref_h,
                "dtype": cfg.model.dtype,
                "readout_delay": 0,
            }
            save_tensors(
                sub / CHECKPOINT,
                model.state_dict(),
                model_metadata(STANDARD_FAMILY, std, run_config=config, init=init),
            )
        files[f"checkpoint:{init}"] = f"{init}/{CHECKPOINT}"
    return files


def figures(run: TrainedRun) -> dict[str, str]:
    """Per model: the init-vs-trained ``weight_hh`` map ``<init>/weight_hh.png``."""
    from spectral_cli.spectra_lstm import plots

    files: dict[str, str] = {}
    for trained in run.models:
        cfg, model, init = trained.member.cfg, trained.model, trained.member.name
        sub = run.run_dir / init
        sub.mkdir(exist_ok=True)
        init_model = build(cfg, run.data.info)
        natural = init in ("exact", "perturbed")  # raw weights span 1e-17..1e20: plot theta
        of = theta_hh_of if natural else weight_hh_of
        blocks = reference.construct(
            cfg.model.window,
            reference.resolve_dtype(cfg.model.dtype),
            input_bound=run.data.info.input_bound,
        ).blocks
        plots.weight_hh_before_after(
            of(init_model).cpu().numpy(),
            of(model).cpu().numpy(),
            blocks if natural else None,  # the unit blocks exist in the construction only
            f"{run.run_dir.path.resolve().name}: {init}: weight_hh "
            f"{'in natural units (theta = W / scale)' if natural else '(raw)'}"
            f", T={cfg.model.window}, {cfg.model.dtype}, "
            f"{cfg.train.epochs * cfg.train.eval_every} steps",
            sub / "weight_hh.png",
        )
        files[f"heatmap:{init}"] = f"{init}/weight_hh.png"
    return files


def _finite(v: float) -> float:
    return v if math.isfinite(v) else 1e308


def finish(run: TrainedRun) -> Outcome:
    """Metrics and drift extras of every model; with plots, the verify checkpoints (the
    ``weight_hh`` maps are the family's :func:`figures`)."""
    models = {
        tm.member.name: ModelOutcome(
            metrics(tm.model, tm.member.cfg, run.data, run.device, run.evaluate_test),
            {}
            if run.metrics_only
            else extras(tm.model, tm.member.cfg, run.data, run.device, run.evaluate_test),
        )
        for tm in run.models
    }
    return Outcome(models, checkpoints(run) if run.plots else {})
